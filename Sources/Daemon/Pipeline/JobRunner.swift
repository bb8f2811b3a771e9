import Foundation
import Logging

/// One attempt at one job: start (counted in the ledger), process into the staging folder,
/// then commit, quarantine, retry later or fail.
struct JobRunner: Sendable {
    let spool: Spool
    let running: RunningJobs
    let config: DaemonConfiguration
    let environment: DaemonService.Environment
    let logger: Logger

    func run(_ queued: JobRecord) async {
        var logger = logger
        logger[metadataKey: "job.id"] = "\(queued.id)"
        if let uid = queued.seriesUID { logger[metadataKey: "series.uid"] = "\(uid)" }
        var stranded = false
        defer { Task { [stranded] in stranded ? await running.strand(queued.id) : await running.finish(queued.id) } }
        let metrics = environment.metrics
        let now = { Date().timeIntervalSince1970 }
        do {
            if let uid = queued.seriesUID, let earlier = try spool.ledger.doneJob(seriesUID: uid),
               let dir = earlier.resultDir, FileSystem.exists(dir) {
                guard await running.beginCommit(queued.id) else { return }
                _ = try spool.completeDuplicate(queued, of: earlier, retention: config.retention, now: now())
                logger.notice("series already processed; not processed again", metadata: ["stage": "commit", "earlier_job": "\(earlier.id)"])
                return
            }
            let job = try spool.startAttempt(queued, now: now())
            logger.info("job started", metadata: ["stage": "process", "attempt": .stringConvertible(job.attempts), "files": .stringConvertible(job.fileCount)])
            let started = now()
            let outcome: ProcessingOutcome
            do {
                outcome = try await environment.processor.process(series: spool.claimedSeries(job), into: spool.stagingFolder(of: job),
                                                                  logger: logger)
            } catch let error as SystemCallError where error.isTransient {
                guard await running.beginCommit(job.id) else { return }
                let delay = config.limits.retrySeconds * pow(2, Double(max(0, job.attempts - 1)))
                let next = try spool.deferRetry(job, reason: "\(error)", retryAt: now() + delay, maxAttempts: config.limits.maxAttempts, now: now())
                if next.state == .failed {
                    metrics.seriesFailed.increment()
                    logger.error("job failed", metadata: ["stage": "process", "code": "\(next.reasonCode ?? "")", "error": "\(error)"])
                } else {
                    metrics.retries.increment()
                    logger.warning("transient error; job will be retried", metadata: ["stage": "process", "error": "\(error)",
                                                                                      "retry_in_s": "\(delay)"])
                }
                return
            } catch is CancellationError {
                return
            } catch {
                guard await running.beginCommit(job.id) else { return }
                let reason = QuarantineReason(code: DaemonCode.processingError.rawValue, sentence: DaemonCode.processingError.sentence,
                                              detail: "\(error)")
                _ = try spool.quarantine(job, reason: reason, now: now())
                metrics.seriesQuarantined.increment()
                logger.error("job quarantined", metadata: ["stage": "quarantine", "code": "\(reason.code)", "error": "\(error)"])
                return
            }
            let processSeconds = now() - started
            metrics.record(stage: "process", seconds: processSeconds)
            guard await running.beginCommit(job.id) else { return }
            switch outcome {
            case .completed(let uid):
                let commitStart = now()
                var done = try spool.commit(job, seriesUID: uid, retention: config.retention, now: now())
                done.durationMS = Int(processSeconds * 1000)
                try spool.ledger.update(done)
                metrics.record(stage: "commit", seconds: now() - commitStart)
                metrics.seriesDone.increment()
                logger.info("series done", metadata: ["stage": "commit", "series.uid": "\(done.seriesUID ?? "")",
                                                      "result": "\(done.resultDir ?? "")", "duration_ms": .stringConvertible(done.durationMS ?? 0)])
            case .rejected(let reason):
                let start = now()
                _ = try spool.quarantine(job, reason: reason, now: now())
                metrics.record(stage: "quarantine", seconds: now() - start)
                metrics.seriesQuarantined.increment()
                logger.warning("series quarantined", metadata: ["stage": "quarantine", "code": "\(reason.code)",
                                                                "duration_ms": .stringConvertible(Int(processSeconds * 1000))])
            }
        } catch {
            // The ledger or the spool itself failed (disk full while recording a step): the job
            // stays at its last durable step, and the loop resumes it from there after a delay.
            stranded = true
            logger.error("job step could not be recorded; it resumes from its last durable step", metadata: ["error": "\(error)"])
        }
    }
}
