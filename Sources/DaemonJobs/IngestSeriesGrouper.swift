import Daemon
import Foundation
import Ingest
import Logging

/// Groups a quiet folder's files into series by their DICOM headers (Ingest reads each file's
/// headers), and sets aside the files no series can use, grouped by their ingest code.
public struct IngestSeriesGrouper: SeriesGrouper {
    public var policy: IngestPolicy
    /// Read the headers in `lcovnet worker group` children (`lcovnet serve`); nil reads them here.
    public var worker: WorkerProcess?
    /// Where the workers' file lists and results go (under the work folder).
    public var scratch: String

    public init(
        policy: IngestPolicy = IngestPolicy(), worker: WorkerProcess? = nil, scratch: String = NSTemporaryDirectory()
    ) {
        var policy = policy
        policy.threads = 1
        self.policy = policy
        self.worker = worker
        self.scratch = scratch
    }

    public func group(files: [String], logger: Logger) async -> SeriesGrouping {
        let policy = policy
        let classified: [Classification]
        if let worker {
            classified = await classifyInWorkers(files, worker: worker, logger: logger)
        } else {
            classified = (try? await BlockingWork.run { files.map { Self.classify($0, policy: policy) } }) ?? []
        }
        var series: [String: [String]] = [:]
        var order: [String] = []
        var rejected: [String: (reason: QuarantineReason, files: [String])] = [:]
        for (file, result) in zip(files, classified) {
            switch result {
            case .series(let key):
                if series[key] == nil { order.append(key) }
                series[key, default: []].append(file)
            case .rejected(let reason):
                rejected[reason.code, default: (reason, [])].files.append(file)
            }
        }
        return SeriesGrouping(
            series: order.map { SeriesGrouping.Group(seriesUID: $0, files: series[$0]!) },
            rejected: rejected.keys.sorted().map { code in
                var reason = rejected[code]!.reason
                reason.detail = "\(rejected[code]!.files.count) file(s)" + (reason.detail.map { "; \($0)" } ?? "")
                return SeriesGrouping.Rejected(
                    reason: reason, files: rejected[code]!.files,
                    mayBeIncomplete: Self.incompleteLooking.contains(IngestCode(rawValue: code) ?? .noSeries))
            })
    }

    /// What a DICOM file cut short by a sender that paused mid-file reads as: no marker yet
    /// (empty), a dataset DCMTK cannot finish, pixel data shorter than its header says.
    static let incompleteLooking: Set<IngestCode> = [.notDicom, .corrupt, .implausibleSize]

    enum Classification: Codable, Equatable {
        /// The SeriesInstanceUID, or Ingest's fallback key when the file has none.
        case series(String)
        case rejected(QuarantineReason)
    }

    /// One file's headers: the series it belongs to, or why it cannot belong to one.
    static func classify(_ file: String, policy: IngestPolicy) -> Classification {
        do {
            let scan = try DicomFolder.scan(
                file, policy: policy,
                logger: Logger(label: "lcovnet.ingest", factory: { _ in SwiftLogNoOpLogHandler() }))
            if let candidate = scan.candidates.first {
                return .series(candidate.seriesInstanceUID.isEmpty ? candidate.id : candidate.seriesInstanceUID)
            }
            if let series = scan.rejectedSeries.first {
                return .series(series.seriesInstanceUID.isEmpty ? series.id : series.seriesInstanceUID)
            }
            return .rejected(reason(scan.fileNotes.first?.code ?? .noSeries))
        } catch {
            return .rejected(reason(error.code))
        }
    }

    static func reason(_ code: IngestCode) -> QuarantineReason {
        QuarantineReason(code: code.rawValue, sentence: code.sentence)
    }

    /// The worker's side: classifies `files` in order, writing one JSON line per file as soon as
    /// it is known, so that after a crash the parent knows which file was being read.
    public static func classify(files: [String], policy: IngestPolicy, appendingTo output: FileHandle) throws {
        var policy = policy
        policy.threads = 1
        for file in files {
            var line = try JSONEncoder().encode(classify(file, policy: policy))
            line.append(0x0A)
            try output.write(contentsOf: line)
        }
    }

    /// Classifies in child processes: when one crashes, the file it was reading is set aside as
    /// `worker_crashed` (the same bytes would crash it again), and a new child goes on after it.
    private func classifyInWorkers(_ files: [String], worker: WorkerProcess, logger: Logger) async -> [Classification] {
        var results: [Classification] = []
        let folder = "\(scratch)/group-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        while results.count < files.count {
            let batch = Array(files[results.count...])
            let list = "\(folder)/files.json"
            let output = "\(folder)/classes.jsonl"
            var crash: WorkerCrash?
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try JSONEncoder().encode(batch).write(to: URL(fileURLWithPath: list))
                _ = FileManager.default.createFile(atPath: output, contents: nil)
                _ = try await worker.run(
                    "group", ["--files", list, "--output", output] + policy.arguments,
                    stderrPath: "\(folder)/worker.stderr")
            } catch let error as WorkerCrash {
                crash = error
            } catch {
                // No child to be had (the binary replaced by an upgrade, no disk for the list):
                // read the headers here rather than stop serving.
                logger.error(
                    "header worker unavailable; reading headers in the daemon", metadata: ["error": "\(error)"])
                let policy = policy
                return results
                    + ((try? await BlockingWork.run { batch.map { Self.classify($0, policy: policy) } }) ?? [])
            }
            let done = Self.completeLines(output).compactMap {
                try? JSONDecoder().decode(Classification.self, from: $0)
            }
            results += done.prefix(batch.count)
            guard results.count < files.count else { break }
            let cause = crash?.description ?? "the header worker stopped before this file"
            logger.error(
                "a file crashed the header worker; it is set aside", metadata: ["stage": "group", "error": "\(cause)"])
            results.append(
                .rejected(
                    QuarantineReason(
                        code: DaemonCode.workerCrashed.rawValue, sentence: DaemonCode.workerCrashed.sentence,
                        detail: cause)))
        }
        return results
    }

    /// The lines of a file that end in a newline (a line cut short by a crash is left out).
    static func completeLines(_ path: String) -> [Data] {
        guard let data = FileManager.default.contents(atPath: path), let end = data.lastIndex(of: 0x0A) else {
            return []
        }
        return data[..<end].split(separator: 0x0A, omittingEmptySubsequences: false).map { Data($0) }
    }
}
