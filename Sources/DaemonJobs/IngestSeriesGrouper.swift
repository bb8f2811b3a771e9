import Daemon
import Ingest
import Logging

/// Groups a quiet folder's files into series by their DICOM headers (Ingest reads each file's
/// headers), and sets aside the files no series can use, grouped by their ingest code.
public struct IngestSeriesGrouper: SeriesGrouper {
    public var policy: IngestPolicy

    public init(policy: IngestPolicy = IngestPolicy()) {
        var policy = policy
        policy.threads = 1
        self.policy = policy
    }

    public func group(files: [String], logger: Logger) async -> SeriesGrouping {
        let policy = policy
        let classified = (try? await BlockingWork.run { files.map { Self.classify($0, policy: policy) } }) ?? []
        var series: [String: [String]] = [:]
        var order: [String] = []
        var rejected: [IngestCode: [String]] = [:]
        for (file, result) in zip(files, classified) {
            switch result {
            case .series(let key):
                if series[key] == nil { order.append(key) }
                series[key, default: []].append(file)
            case .rejected(let code):
                rejected[code, default: []].append(file)
            }
        }
        return SeriesGrouping(
            series: order.map { SeriesGrouping.Group(seriesUID: $0, files: series[$0]!) },
            rejected: rejected.keys.sorted { $0.rawValue < $1.rawValue }.map { code in
                SeriesGrouping.Rejected(reason: QuarantineReason(code: code.rawValue, sentence: code.sentence,
                                                                 detail: "\(rejected[code]!.count) file(s)"),
                                        files: rejected[code]!)
            })
    }

    enum Classification {
        /// The SeriesInstanceUID, or Ingest's fallback key when the file has none.
        case series(String)
        case rejected(IngestCode)
    }

    /// One file's headers: the series it belongs to, or why it cannot belong to one.
    static func classify(_ file: String, policy: IngestPolicy) -> Classification {
        do {
            let scan = try DicomFolder.scan(file, policy: policy, logger: Logger(label: "lcovnet.ingest", factory: { _ in SwiftLogNoOpLogHandler() }))
            if let candidate = scan.candidates.first {
                return .series(candidate.seriesInstanceUID.isEmpty ? candidate.id : candidate.seriesInstanceUID)
            }
            if let series = scan.rejectedSeries.first {
                return .series(series.seriesInstanceUID.isEmpty ? series.id : series.seriesInstanceUID)
            }
            return .rejected(scan.fileNotes.first?.code ?? .noSeries)
        } catch {
            return .rejected(error.code)
        }
    }
}
