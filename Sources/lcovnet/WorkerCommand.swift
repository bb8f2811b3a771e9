import ArgumentParser
import Daemon
import DaemonJobs
import Foundation
import Ingest
import Logging

/// `lcovnet worker`: what `lcovnet serve` runs in a child process on untrusted bytes (DaemonJobs'
/// WorkerProcess), so that a crash ends the child only. Not for people to call.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Work on untrusted series in a child process of `lcovnet serve` (internal).",
        shouldDisplay: false,
        subcommands: [
            WorkerDecodeCommand.self, WorkerGroupCommand.self, WorkerSegmentCommand.self, WorkerWriteCommand.self,
            WorkerCacheCommand.self,
            WorkerStoreSCPCommand.self, WorkerSendCommand.self
        ])
}

/// The limits a worker sets on itself before it reads a byte.
struct WorkerLimits: ParsableArguments {
    @Option(help: "Address space in MiB (RLIMIT_AS).") var addressSpaceMb: Int
    @Option(help: "CPU seconds (RLIMIT_CPU).") var cpuSeconds: Int

    func apply() throws {
        func set(_ resource: Int32, _ value: Int) throws {
            var limit = rlimit(rlim_cur: rlim_t(value), rlim_max: rlim_t(value))
            guard setrlimit(__rlimit_resource_t(UInt32(resource)), &limit) == 0 else {
                throw ValidationError("setrlimit: \(String(cString: strerror(errno)))")
            }
        }
        try set(Int32(RLIMIT_AS.rawValue), addressSpaceMb << 20)
        try set(Int32(RLIMIT_CPU.rawValue), cpuSeconds)
    }
}

/// Decodes a claimed series into OUTPUT (DaemonJobs.SeriesDecoding); exit 75 when a file
/// cannot be read for now.
struct WorkerDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Decode one claimed series (internal).")

    @OptionGroup var limits: WorkerLimits
    @Option var input: String
    @Option var output: String
    @Option var series: String?
    @OptionGroup var ingest: WorkerIngestPolicy

    func run() throws {
        try limits.apply()
        let logger = Logger(label: "lcovnet.worker", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            try SeriesDecoding.writeDecoded(
                input: input, seriesUID: series, into: output, policy: ingest.policy, logger: logger)
        } catch let error as SystemCallError where error.isTransient {
            throw ExitCode(ExitStatus.temporaryFailure)
        }
    }
}

/// Reads the headers of the files listed in FILES (a JSON array), one JSON line per file in OUTPUT.
struct WorkerGroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Classify files by their headers (internal).")

    @OptionGroup var limits: WorkerLimits
    @Option var files: String
    @Option var output: String
    @OptionGroup var tls: WorkerTLSOptions
    @OptionGroup var ingest: WorkerIngestPolicy

    func run() throws {
        try limits.apply()
        let list = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: files)))
        guard let handle = FileHandle(forWritingAtPath: output) else {
            throw ValidationError("\(output): cannot be opened")
        }
        try IngestSeriesGrouper.classify(files: list, policy: ingest.policy, appendingTo: handle)
        try handle.close()
    }
}

/// The daemon's `[ingest]` choices, as IngestPolicy.arguments passes them to a worker.
struct WorkerIngestPolicy: ParsableArguments {
    @Option var missingSlices: IngestPolicy.Choice = IngestPolicy().missingSlices
    @Option var nonuniformSpacing: IngestPolicy.Choice = IngestPolicy().nonUniformSpacing
    @Option var gantryTilt: IngestPolicy.Choice = IngestPolicy().gantryTilt
    @Option var damagedFiles: IngestPolicy.Choice = IngestPolicy().damagedFiles
    @Option var minimumSlices: Int = IngestPolicy().minimumSlices

    var policy: IngestPolicy {
        var p = IngestPolicy()
        p.missingSlices = missingSlices
        p.nonUniformSpacing = nonuniformSpacing
        p.gantryTilt = gantryTilt
        p.damagedFiles = damagedFiles
        p.minimumSlices = minimumSlices
        return p
    }
}

/// DICOM over TLS for a worker's connections (DaemonJobs passes [dicom]'s files).
struct WorkerTLSOptions: ParsableArguments {
    @Option var tlsCertificate: String?
    @Option var tlsPrivateKey: String?
    @Option var tlsTrusted: String?

    var tls: DicomTLS? {
        guard let tlsCertificate, let tlsPrivateKey else { return nil }
        return DicomTLS(certificate: tlsCertificate, privateKey: tlsPrivateKey, trusted: tlsTrusted)
    }
}

/// The daemon's storage SCP ([dicom]): serves until killed, one JSON log line per event on
/// stdout (the daemon's own). Exit 1 with a line when it cannot listen.
struct WorkerStoreSCPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-scp", abstract: "Receive DICOM for the daemon (internal).")

    @OptionGroup var limits: WorkerLimits
    @Option var aeTitle: String
    @Option var address: String
    @Option var port: Int
    @Option(help: "Calling AE titles let in, comma-separated (empty: any).") var accept: String = ""
    @Option var maxPdu: Int
    @Option var acseTimeout: Int
    @Option var dimseTimeout: Int
    @Option var intake: String
    @Option var minimumFreeMb: Int
    @Option var logLevel: String = "info"
    @OptionGroup var tls: WorkerTLSOptions

    func run() throws {
        try limits.apply()
        // A daemon killed with SIGKILL cannot stop its SCP: the child leaves when its parent is
        // gone, freeing the port for the next daemon's.
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { sleep(1) }
            Glibc.exit(0)
        }
        let control = LogLevelControl(Logger.Level(rawValue: logLevel) ?? .info)
        LoggingSystem.bootstrap { label in JSONLinesLogHandler(label: label, control: control) }
        let logger = Logger(label: "lcovnet.dicom")
        let scp = StorageSCP(
            aeTitle: aeTitle, address: address, port: port,
            acceptedCallingAETitles: accept.split(separator: ",").map(String.init), maxPDU: maxPdu,
            acseTimeoutSeconds: acseTimeout, dimseTimeoutSeconds: dimseTimeout, intake: intake,
            minimumFreeBytes: UInt64(minimumFreeMb) << 20, tls: tls.tls)
        logger.info(
            "storage SCP listening",
            metadata: [
                "ae_title": "\(aeTitle)", "address": "\(address)", "port": "\(port)",
                "tls": "\(tls.tls != nil)"
            ])
        do {
            try scp.run { event in
                switch event {
                case .stored(let file): logger.debug("instance received", metadata: ["file": "\(file)"])
                case .refused(let reason): logger.warning("association refused", metadata: ["reason": "\(reason)"])
                case .storeFailed(let reason): logger.error("instance not stored", metadata: ["reason": "\(reason)"])
                case .associationAccepted(let peer):
                    logger.info("association accepted", metadata: ["calling_ae_title": "\(peer)"])
                case .associationEnded(let peer):
                    logger.info("association ended", metadata: ["calling_ae_title": "\(peer)"])
                }
            }
        } catch {
            logger.critical("storage SCP stopped", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("lcovnet worker store-scp: \(error)\n".utf8))
            throw ExitCode(ExitStatus.failure)
        }
    }
}

/// Sends the files listed in FILES (a JSON array) to one peer with C-STORE; OUTPUT gets
/// {"statuses": [...]}. Exit 75 with a line on stderr when the peer cannot be reached.
struct WorkerSendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send", abstract: "Send result objects with C-STORE (internal).")

    @OptionGroup var limits: WorkerLimits
    @Option var host: String
    @Option var port: Int
    @Option var calledAeTitle: String
    @Option var callingAeTitle: String
    @Option var maxPdu: Int
    @Option var acseTimeout: Int
    @Option var dimseTimeout: Int
    @Option var files: String
    @Option var output: String
    @OptionGroup var tls: WorkerTLSOptions

    func run() throws {
        try limits.apply()
        let list = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: files)))
        let statuses: [Int]
        do throws(StorageSCU.Failure) {
            statuses = try StorageSCU.send(
                list, to: DicomPeer(aeTitle: calledAeTitle, host: host, port: port), callingAETitle: callingAeTitle,
                maxPDU: maxPdu, acseTimeoutSeconds: acseTimeout, dimseTimeoutSeconds: dimseTimeout, tls: tls.tls)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            if case .unreachable = error { throw ExitCode(ExitStatus.temporaryFailure) }
            throw ExitCode(ExitStatus.failure)
        }
        try JSONEncoder().encode(["statuses": statuses]).write(to: URL(fileURLWithPath: output))
    }
}
