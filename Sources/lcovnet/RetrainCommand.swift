import ArgumentParser
import Daemon
import DaemonJobs
import Foundation
import Logging
import Retraining

/// `lcovnet retrain [--config FILE]`: one distillation round from the cache (systemd/lcovnet-retrain.timer runs it).
struct RetrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain",
        abstract:
            "Run one retraining round: teacher backfill, fine-tuning from the distillation cache, validation, promotion.",
        discussion: """
            Reads [retrain] of the daemon's configuration. Logs one JSON object per line on stdout; the round's \
            progress and decision also go to <work>/retrain/status.json, which `lcovnet status` shows. The daemon \
            picks up a promoted model before its next job. Exit codes: 0 the round ran (promoted, kept the current \
            model, or skipped for lack of data), 1 the round failed (the current model stays), 75 another round is \
            running, 78 invalid configuration.
            """)

    @Option(name: .long, help: "Configuration file (default \(DaemonConfiguration.defaultPath)).")
    var config: String = DaemonConfiguration.defaultPath

    func run() throws {
        let c: DaemonConfiguration
        do { c = try ConfigurationLoader.load(file: config) } catch {
            FileHandle.standardError.write(Data("lcovnet retrain: \(error)\n".utf8))
            throw ExitCode(ExitStatus.invalidConfiguration)
        }
        let control = LogLevelControl(c.logLevel)
        LoggingSystem.bootstrap { label in JSONLinesLogHandler(label: label, control: control) }
        let logger = Logger(label: "lcovnet.retrain")
        if !c.job.model.isEmpty {
            logger.warning(
                "[job] model is set: the daemon serves that folder, not the versions this round promotes",
                metadata: ["model": "\(c.job.model)"])
        }
        let settings: RetrainSettings
        do { settings = try RetrainSettings(configuration: c, environment: ProcessInfo.processInfo.environment) } catch
        {
            FileHandle.standardError.write(Data("lcovnet retrain: [retrain] \(error)\n".utf8))
            throw ExitCode(ExitStatus.invalidConfiguration)
        }
        let round: RetrainRound
        do {
            round = RetrainRound(
                cache: try DistillationCache(path: c.cachePath, boundBytes: Int64(c.retrain.cacheMB) << 20),
                store: try ModelStore(path: c.modelsPath),
                baseline: SegmentSeriesProcessor.modelPath(c, environment: ProcessInfo.processInfo.environment),
                settings: settings, workPath: c.retrainPath, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("lcovnet retrain: \(error)\n".utf8))
            throw ExitCode(ExitStatus.failure)
        }
        let status: RoundStatus
        do { status = try round.run() } catch {
            FileHandle.standardError.write(Data("lcovnet retrain: \(error)\n".utf8))
            throw ExitCode(error is LockHeld ? ExitStatus.temporaryFailure : ExitStatus.failure)
        }
        if status.decision == .failed { throw ExitCode(ExitStatus.failure) }
    }
}
