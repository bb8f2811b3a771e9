import Daemon
import Foundation
import Ingest

/// The outbox's C-STORE, in a `lcovnet worker send` child: what a peer answers is parsed where a
/// crash ends only the child (the entries then wait for their next attempt).
public struct WorkerOutboxSender: OutboxSender {
    let worker: WorkerProcess
    let callingAETitle: String
    let dicom: DaemonConfiguration.Dicom
    let scratch: String
    let maxPDU, acseTimeoutSeconds, dimseTimeoutSeconds: Int

    public init(configuration: DaemonConfiguration, worker: WorkerProcess) {
        var w = worker
        w.deadlineSeconds = 900
        self.worker = w
        self.callingAETitle = configuration.dicom.aeTitle
        self.dicom = configuration.dicom
        self.scratch = "\(configuration.paths.work)/worker"
        self.maxPDU = configuration.dicom.maxPDU
        self.acseTimeoutSeconds = configuration.dicom.acseTimeoutSeconds
        self.dimseTimeoutSeconds = configuration.dicom.dimseTimeoutSeconds
    }

    /// The child's report: one DIMSE status per file, in order.
    struct Report: Codable { var statuses: [Int] }

    public func send(_ entries: [OutboxEntry], to destination: DaemonConfiguration.Destination) async
        -> [DeliveryOutcome]
    {
        let present = entries.map { FileManager.default.fileExists(atPath: $0.file) }
        let files = zip(entries, present).filter(\.1).map(\.0.file)
        guard !files.isEmpty else { return entries.map { _ in .gone } }
        let name = "send-\(UUID().uuidString)"
        let list = "\(scratch)/\(name).json"
        let output = "\(scratch)/\(name).out"
        let stderr = "\(scratch)/\(name).err"
        defer { for path in [list, output, stderr] { try? FileManager.default.removeItem(atPath: path) } }
        var statuses: [Int]
        do {
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            try JSONEncoder().encode(files).write(to: URL(fileURLWithPath: list))
            let status = try await worker.run(
                "send",
                [
                    "--host", destination.host, "--port", "\(destination.port)", "--called-ae-title",
                    destination.aeTitle,
                    "--calling-ae-title", callingAETitle, "--max-pdu", "\(maxPDU)", "--acse-timeout",
                    "\(acseTimeoutSeconds)",
                    "--dimse-timeout", "\(dimseTimeoutSeconds)", "--files", list, "--output", output
                ]
                    + StorageSCPService.tlsArguments(dicom, enabled: destination.tls), stderrPath: stderr)
            if status == WorkerProcess.temporaryFailure {
                let reason = (try? String(contentsOfFile: stderr, encoding: .utf8))?.split(separator: "\n").last.map(
                    String.init)
                return entries.map { _ in .notStored(reason ?? "\(destination.name) could not be reached") }
            }
            statuses = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
                .statuses
        } catch {
            return entries.map { _ in .notStored("sending to \(destination.name) failed: \(error)") }
        }
        guard statuses.count == files.count else {
            return entries.map { _ in .notStored("the sender's report does not match the files") }
        }
        return present.map { there in
            guard there else { return .gone }
            let status = statuses.removeFirst()
            return StorageSCU.isStored(status)
                ? .stored : .notStored(String(format: "%@ answered status 0x%04X", destination.name, status))
        }
    }
}
