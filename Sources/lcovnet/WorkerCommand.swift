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
        commandName: "worker", abstract: "Read untrusted DICOM in a child process of `lcovnet serve` (internal).",
        shouldDisplay: false, subcommands: [WorkerDecodeCommand.self, WorkerGroupCommand.self])
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
    static let configuration = CommandConfiguration(commandName: "decode", abstract: "Decode one claimed series (internal).")

    @OptionGroup var limits: WorkerLimits
    @Option var input: String
    @Option var output: String
    @Option var series: String?

    func run() throws {
        try limits.apply()
        let logger = Logger(label: "lcovnet.worker", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            try SeriesDecoding.writeDecoded(input: input, seriesUID: series, into: output, logger: logger)
        } catch let error as SystemCallError where error.isTransient {
            throw ExitCode(WorkerProcess.temporaryFailure)
        }
    }
}

/// Reads the headers of the files listed in FILES (a JSON array), one JSON line per file in OUTPUT.
struct WorkerGroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group", abstract: "Classify files by their headers (internal).")

    @OptionGroup var limits: WorkerLimits
    @Option var files: String
    @Option var output: String

    func run() throws {
        try limits.apply()
        let list = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: files)))
        guard let handle = FileHandle(forWritingAtPath: output) else { throw ValidationError("\(output): cannot be opened") }
        try IngestSeriesGrouper.classify(files: list, policy: IngestPolicy(), appendingTo: handle)
        try handle.close()
    }
}
