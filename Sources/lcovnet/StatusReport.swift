import Daemon
import Foundation

/// The text and JSON that `lcovnet status` prints.
enum StatusReport {
    static func counts(_ jobs: [JobRecord]) -> [(JobState, Int)] {
        JobState.allCases.map { state in (state, jobs.filter { $0.state == state }.count) }
    }

    static func text(_ jobs: [JobRecord], recent: Int) -> String {
        var out = counts(jobs).map { "\($0.0.rawValue) \($0.1)" }.joined(separator: ", ") + "\n"
        let active = jobs.filter { JobState.unfinished.contains($0.state) }
        let trouble = jobs.filter { [.failed, .quarantined].contains($0.state) }
        let done = jobs.filter { $0.state == .done }.suffix(recent)
        func line(_ job: JobRecord) -> String {
            var parts = [
                "  \(job.id)", job.state.rawValue, job.seriesUID?.escapingControlCharacters ?? "-",
                "\(job.fileCount) files"
            ]
            if job.attempts > 0 { parts.append("attempt \(job.attempts)") }
            if let holder = job.leaseHolder, active.contains(job) {
                parts.append("on \(holder.escapingControlCharacters)")
            }
            if let ms = job.durationMS { parts.append("\(ms) ms") }
            if let code = job.reasonCode { parts.append("[\(code)] \((job.reason ?? "").escapingControlCharacters)") }
            if let dir = job.resultDir, job.state == .done || job.state == .quarantined {
                parts.append("→ \(dir.escapingControlCharacters)")
            }
            return parts.joined(separator: "  ") + "\n"
        }
        if !active.isEmpty { out += "active:\n" + active.map(line).joined() }
        if !trouble.isEmpty { out += "failed or quarantined:\n" + trouble.map(line).joined() }
        if !done.isEmpty { out += "recently done:\n" + done.map(line).joined() }
        return out
    }

    static func json(
        _ jobs: [JobRecord], retraining: Retraining? = nil, outbox: [Outbox] = [], workers: [Worker] = []
    ) -> String {
        var counts: [String: Int] = [:]
        for (state, n) in Self.counts(jobs) { counts[state.rawValue] = n }
        struct Report: Encodable {
            var counts: [String: Int]
            var jobs: [Job]
            var retraining: Retraining?
            var outbox: [Outbox]
            var workers: [Worker]
        }
        struct Job: Encodable {
            var id: String
            var series_uid: String?
            var source: String
            var state: String
            var step: String
            var attempts: Int
            var file_count: Int
            var input_bytes: Int64
            var created_at: Double
            var started_at: Double?
            var finished_at: Double?
            var next_attempt_at: Double?
            var reason_code: String?
            var reason: String?
            var result_dir: String?
            var duration_ms: Int?
            /// The worker whose lease the job is under.
            var worker: String?
        }
        let report = Report(
            counts: counts,
            jobs: jobs.map {
                Job(
                    id: $0.id, series_uid: $0.seriesUID, source: $0.source, state: $0.state.rawValue,
                    step: $0.step.rawValue,
                    attempts: $0.attempts, file_count: $0.fileCount, input_bytes: $0.inputBytes,
                    created_at: $0.createdAt,
                    started_at: $0.startedAt, finished_at: $0.finishedAt, next_attempt_at: $0.nextAttemptAt,
                    reason_code: $0.reasonCode, reason: $0.reason, result_dir: $0.resultDir, duration_ms: $0.durationMS,
                    worker: $0.leaseHolder)
            }, retraining: retraining, outbox: outbox, workers: workers)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self) + "\n"
    }
}
