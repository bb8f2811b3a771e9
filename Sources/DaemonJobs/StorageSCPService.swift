import Daemon
import Foundation
import Logging
import ServiceLifecycle

/// Keeps the daemon's storage SCP ([dicom], `lcovnet worker store-scp`) running beside it: a
/// child that crashes on what a peer sent is started again (after 1 s, doubling to 60 s while it
/// keeps failing), and graceful shutdown ends it. What it stored is in the watch
/// folder already, so a restart loses nothing; a sender whose association broke sends again.
public struct StorageSCPService: Service {
    let configuration: DaemonConfiguration
    let worker: WorkerProcess
    let logger: Logger

    public init(configuration: DaemonConfiguration, worker: WorkerProcess, logger: Logger) {
        self.configuration = configuration
        self.worker = worker
        self.logger = logger
    }

    /// The child's arguments (limits first, as every worker's).
    var arguments: [String] {
        let d = configuration.dicom
        return [
            "worker", "store-scp", "--address-space-mb", "1024", "--cpu-seconds", "\(Self.cpuSeconds)",
            "--ae-title", d.aeTitle, "--address", d.address, "--port", "\(d.port)",
            "--accept", d.acceptedCallingAETitles.joined(separator: ","), "--max-pdu", "\(d.maxPDU)",
            "--acse-timeout", "\(d.acseTimeoutSeconds)", "--dimse-timeout", "\(d.dimseTimeoutSeconds)",
            "--intake", configuration.dicomIntakePath, "--minimum-free-mb", "\(configuration.ingest.diskWatermarkMB)",
            "--log-level", configuration.logLevel.rawValue
        ] + Self.tlsArguments(d, enabled: !d.tlsCertificate.isEmpty)
    }

    /// The TLS files a worker gets (none when TLS is off for its connection).
    static func tlsArguments(_ d: DaemonConfiguration.Dicom, enabled: Bool) -> [String] {
        guard enabled else { return [] }
        return ["--tls-certificate", d.tlsCertificate, "--tls-private-key", d.tlsPrivateKey]
            + (d.tlsTrustedCertificates.isEmpty ? [] : ["--tls-trusted", d.tlsTrustedCertificates])
    }

    /// RLIMIT_CPU of the long-lived child: reaching it restarts the child, nothing worse.
    static let cpuSeconds = 7 * 86_400

    public func run() async throws {
        var delay = 1.0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            let process = Process()
            process.executableURL = URL(fileURLWithPath: worker.executable)
            process.arguments = arguments
            process.standardInput = FileHandle.nullDevice
            let status: Int32 = await withGracefulShutdownHandler {
                await withCheckedContinuation { continuation in
                    process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
                    do { try process.run() } catch {
                        process.terminationHandler = nil
                        continuation.resume(returning: -1)
                    }
                }
            } onGracefulShutdown: {
                // SIGKILL: children inherit the daemon's blocked SIGTERM. Nothing is lost: an
                // instance is answered only once it is on disk, and a cut association is resent.
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            if ContinuousClock.now - started > .seconds(60) { delay = 1 }
            logger.error(
                "storage SCP ended, starting it again", metadata: ["status": "\(status)", "in_seconds": "\(delay)"])
            let wait = delay
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(wait)) }
            delay = min(delay * 2, 60)
        }
    }
}
