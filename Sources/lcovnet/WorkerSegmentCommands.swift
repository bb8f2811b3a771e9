import ArgumentParser
import Daemon
import DaemonJobs
import Foundation
import Logging
import Retraining

/// The model and job options every segment-job child gets (DaemonJobs.ContainedSegmentation.Job).
struct WorkerJobOptions: ParsableArguments {
    @Option var decoded: String
    @Option var model: String
    @Option var precision: String = ""
    @Option var threads: Int
    @Option var memoryBudgetMib: Int
    @Option var rtstruct: Bool = true
    @Option var keepsPrepared: Bool = false

    var job: ContainedSegmentation.Job {
        ContainedSegmentation.Job(
            model: model, precision: precision, threads: threads, memoryBudgetMiB: memoryBudgetMib, rtstruct: rtstruct,
            keepsPrepared: keepsPrepared)
    }
}

/// Prepares and infers the decoded series in DECODED, leaving its labels there.
struct WorkerSegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment", abstract: "Segment one decoded series (internal).")

    @OptionGroup var limits: WorkerLimits
    @OptionGroup var options: WorkerJobOptions

    func run() throws {
        try limits.apply()
        let logger = Logger(label: "lcovnet.worker", factory: { _ in SwiftLogNoOpLogHandler() })
        try ContainedSegmentation.segmentHere(folder: options.decoded, job: options.job, logger: logger)
    }
}

/// Writes the result files of the segmented series in DECODED into OUTPUT; exit 75 when the disk
/// is full (retried).
struct WorkerWriteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write", abstract: "Write one series' results (internal).")

    @OptionGroup var limits: WorkerLimits
    @OptionGroup var options: WorkerJobOptions
    @Option var output: String
    @Option var loadSeconds: Double

    func run() throws {
        try limits.apply()
        do {
            try ContainedSegmentation.writeHere(
                folder: options.decoded, output: output, job: options.job, loadSeconds: loadSeconds)
        } catch let error as SystemCallError where error.isTransient {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(ExitStatus.temporaryFailure)
        }
    }
}

/// Adds the segmented series in DECODED to the distillation cache.
struct WorkerCacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Cache one series for retraining (internal).")

    @OptionGroup var limits: WorkerLimits
    @Option var decoded: String
    @Option var cachePath: String
    @Option var cacheMb: Int
    @Option(help: "Patch window, comma-separated (z,y,x).") var window: String
    @Option var patches: Int
    @Option var model: String

    func run() throws {
        try limits.apply()
        let cache = try DistillationCache(path: cachePath, boundBytes: Int64(cacheMb) << 20)
        try ContainedSegmentation.cacheHere(
            folder: decoded, cache: cache, window: window.split(separator: ",").compactMap { Int($0) },
            patchesPerSeries: patches, model: model)
    }
}
