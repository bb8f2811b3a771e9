import ArgumentParser
import Daemon
import DaemonJobs
import Foundation
import Ingest
import Logging
import ServiceLifecycle

/// `lcovnet serve`: the watch-folder daemon (systemd/lcovnet.service runs it).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the watch-folder daemon: every series that arrives is processed once.",
        discussion: """
            Logs one JSON object per line on stdout. SIGTERM drains (running jobs get \
            [limits] drain_seconds), SIGHUP reloads the configuration. Exit codes: 0 stopped, \
            78 invalid configuration (the line names the key and the fix), 1 any other failure.
            """)

    @Option(name: .long, help: "Configuration file (default \(DaemonConfiguration.defaultPath)).")
    var config: String = DaemonConfiguration.defaultPath

    func run() async throws {
        let configuration: DaemonConfiguration
        do {
            configuration = try ConfigurationLoader.load(file: config)
        } catch {
            FileHandle.standardError.write(Data("lcovnet serve: \(error)\n".utf8))
            throw ExitCode(ExitStatus.invalidConfiguration)
        }
        let control = LogLevelControl(configuration.logLevel)
        LoggingSystem.bootstrap { label in JSONLinesLogHandler(label: label, control: control) }
        let logger = Logger(label: "lcovnet.daemon")
        // Untrusted bytes are read in `lcovnet worker` children: a crash there ends the child only.
        let worker = WorkerProcess.forDaemon(configuration)
        let policy = IngestPolicy(configuration: configuration.ingest)
        let processor: any SeriesProcessor
        switch configuration.job.kind {
        case .convert:
            processor = ConvertSeriesProcessor(policy: policy, worker: worker)
        case .segment:
            do {
                processor = try SegmentSeriesProcessor(configuration: configuration, worker: worker, logger: logger)
            } catch {
                logger.critical("invalid configuration", metadata: ["error": "\(error)"])
                FileHandle.standardError.write(Data("lcovnet serve: \(error)\n".utf8))
                throw ExitCode(ExitStatus.invalidConfiguration)
            }
        }
        let environment = DaemonService.Environment(
            configFile: config, processor: processor,
            grouper: IngestSeriesGrouper(policy: policy, worker: worker, scratch: "\(configuration.paths.work)/worker"),
            logLevel: control, notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment),
            metrics: DaemonMetrics(), outboxSender: WorkerOutboxSender(configuration: configuration, worker: worker))
        let service = DaemonService(configuration: configuration, environment: environment, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
        // The storage SCP in a child of its own: network bytes never parsed in the daemon.
        if configuration.dicom.port > 0 {
            services.append(
                .init(service: StorageSCPService(configuration: configuration, worker: worker, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch let error as ConfigurationError {
            logger.critical("invalid configuration", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("lcovnet serve: \(error)\n".utf8))
            throw ExitCode(ExitStatus.invalidConfiguration)
        } catch {
            logger.critical("daemon stopped by an error", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("lcovnet serve: \(error)\n".utf8))
            throw ExitCode(ExitStatus.failure)
        }
    }
}
