import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `lcovnet serve`: watch → group → claim → process → commit, with the ledger recording every
/// step. One loop (intake, scheduling, watchdog) drives jobs that run as tasks of their own.
public struct DaemonService: Service {
    public struct Environment: Sendable {
        public var configFile: String?
        public var processor: any SeriesProcessor
        public var grouper: any SeriesGrouper
        public var logLevel: LogLevelControl
        public var notifier: SystemdNotifier
        public var metrics: DaemonMetrics
        /// Sends the outbox to [[dicom.destinations]] (nil: results stay in the results folder only).
        public var outboxSender: (any OutboxSender)?

        public init(
            configFile: String?, processor: any SeriesProcessor, grouper: any SeriesGrouper,
            logLevel: LogLevelControl, notifier: SystemdNotifier, metrics: DaemonMetrics,
            outboxSender: (any OutboxSender)? = nil
        ) {
            self.outboxSender = outboxSender
            self.configFile = configFile
            self.processor = processor
            self.grouper = grouper
            self.logLevel = logLevel
            self.notifier = notifier
            self.metrics = metrics
        }
    }

    let initial: DaemonConfiguration
    let environment: Environment
    let logger: Logger

    public init(configuration: DaemonConfiguration, environment: Environment, logger: Logger) {
        self.initial = configuration
        self.environment = environment
        self.logger = logger
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    public func run() async throws {
        let flags = LoopFlags()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // SIGHUP: reload at the next turn of the loop.
                    for await _ in await UnixSignalsSequence(trapping: .sighup) { flags.requestReload() }
                }
                try await loop(flags: flags)
                group.cancelAll()
            }
        } onGracefulShutdown: {
            flags.beginDrain()
        }
    }

    private func loop(flags: LoopFlags) async throws {
        var config = initial
        let env = environment
        try Spool.prepareFolders(config, file: env.configFile ?? "configuration")
        // One daemon per work folder, from before the ledger opens until the process ends.
        let lock = try WorkFolderLock(work: config.paths.work, file: env.configFile ?? "configuration")
        defer { withExtendedLifetime(lock) {} }
        let ledger = try JobLedgers.open(config)
        let spool = Spool(configuration: config, ledger: ledger)
        let running = RunningJobs()
        let stages = PipelineStages()
        try ledger.heartbeat(Self.workerRecord(config, .active))
        let queue = try spool.recover(
            retention: config.retention, maxAttempts: config.limits.maxAttempts,
            now: Self.now(), logger: logger)
        let watcher = FolderWatcher(root: config.paths.watch, markerFile: config.ingest.markerFile, logger: logger)
        try watcher.start(now: Self.now())
        let server = MetricsServer(metrics: env.metrics, logger: logger)
        if config.metrics.port > 0 {
            let port = try server.start(address: config.metrics.address, port: config.metrics.port)
            logger.info(
                "metrics endpoint listening", metadata: ["address": "\(config.metrics.address)", "port": "\(port)"])
        }
        defer { server.stop() }
        // The outbox runs beside the pipeline from the ledger's schedule (what a kill interrupted included).
        let outboxLoop = env.outboxSender.flatMap { sender in
            config.dicom.destinations.isEmpty
                ? nil
                : OutboxLoop(
                    ledger: ledger, sender: sender, destinations: config.dicom.destinations,
                    retrySeconds: config.limits.retrySeconds, logger: logger)
        }
        let outbox = outboxLoop.map { loop in Task { await loop.run() } }
        defer { outbox?.cancel() }

        logger.info(
            "daemon started",
            metadata: [
                "watch": "\(config.paths.watch)", "output": "\(config.paths.output)",
                "queued": .stringConvertible(queue.count), "pid": .stringConvertible(getpid()),
                "worker": "\(config.ledgerWorker)"
            ])
        env.notifier.ready(status: "watching \(config.paths.watch)")
        var turn = LoopTurnState(queue: queue, lastHeartbeat: Self.now())
        let parts = LoopParts(watcher: watcher, spool: spool, ledger: ledger, running: running, stages: stages)

        while !flags.draining {
            let now = Self.now()
            if flags.takeReload() {
                config = reload(current: config, watcher: watcher)
            }
            watcher.poll(now: now, rescanSeconds: config.ingest.rescanSeconds)
            keepLeases(&turn, parts, config: config, flags: flags, now: now)
            updateIntakePause(&turn, config: config)
            if !turn.paused {
                await takeInReadyFolders(&turn, parts, config: config, flags: flags, now: now)
                resumeInterruptedClaims(&turn, parts, config: config, now: now)
            }
            await resumeStrandedJobs(&turn, parts, config: config, now: now)
            await helpWithBacklog(&turn, parts, config: config, flags: flags, now: now)
            let scheduled = await schedule(
                turn.queue, spool: spool, running: running, stages: stages, config: config, now: now)
            turn.queue = scheduled.waiting
            for id in scheduled.stranded { turn.stranded[id] = now + config.limits.retrySeconds }
            await publishTurn(&turn, parts, now: now)
            try? await Task.sleep(for: .milliseconds(200))
        }

        try await drain(running: running, spool: spool, ledger: ledger, config: config)
    }

    // MARK: Intake

    /// Groups a quiet folder's files into series and claims each; nil when claiming hit a
    /// transient error (the rest waits for the next turn).
    func intake(_ folder: ReadyFolder, spool: Spool, quietSeconds: Double, now: Double) async throws(LedgerError)
        -> [JobRecord]?
    {
        let started = Self.now()
        // Workers sharing the watch folder claim one folder at a time; what another claimed
        // while this one waited is gone, and only what is left is grouped.
        let ledger = spool.ledger
        do {
            guard try ledger.beginIntake(folder.path) else { return [] }
        } catch let error as LedgerError {
            throw error
        } catch {
            return nil
        }
        defer { try? ledger.endIntake(folder.path) }
        let files = folder.files.filter(FileSystem.exists)
        if files.isEmpty { return [] }
        let grouping = await environment.grouper.group(files: files, logger: logger)
        var claimed: [JobRecord] = []
        do {
            for group in grouping.series {
                let job = try spool.claim(
                    files: group.files, seriesUID: group.seriesUID, source: folder.relative, now: now)
                logger.info(
                    "series claimed",
                    metadata: [
                        "job.id": "\(job.id)", "series.uid": "\(job.seriesUID ?? "")",
                        "stage": "claim", "files": .stringConvertible(job.fileCount)
                    ])
                claimed.append(job)
            }
            for var rejected in grouping.rejected {
                if rejected.mayBeIncomplete {
                    // A sender that paused mid-file: a file changed within the last three quiet
                    // periods stays in the watch folder and is read again after the next one.
                    let recent = now - 3 * quietSeconds
                    let waiting = rejected.files.filter { (FileSystem.info($0)?.modified ?? 0) > recent }
                    if !waiting.isEmpty {
                        logger.info(
                            "files that may still be arriving wait another quiet period",
                            metadata: [
                                "stage": "claim", "code": "\(rejected.reason.code)",
                                "files": .stringConvertible(waiting.count)
                            ])
                        rejected.files.removeAll { waiting.contains($0) }
                        if rejected.files.isEmpty { continue }
                    }
                }
                let job = try spool.claim(
                    files: rejected.files, seriesUID: nil, source: folder.relative,
                    rejection: rejected.reason, now: now)
                let done = try spool.quarantine(job, reason: rejected.reason, now: Self.now())
                environment.metrics.seriesQuarantined.increment()
                logger.warning(
                    "files quarantined",
                    metadata: [
                        "job.id": "\(done.id)", "stage": "quarantine", "code": "\(rejected.reason.code)",
                        "files": .stringConvertible(rejected.files.count)
                    ])
            }
        } catch LedgerError.unavailable(let reason) where claimed.isEmpty {
            // The database is away: the caller pauses intake (logged once) until it is back.
            // (Jobs claimed before it went are returned below, to be queued.)
            throw LedgerError.unavailable(reason)
        } catch {
            // No folder name or path: storescp may name the watch folder after the patient.
            logger.error(
                "claim failed; the files stay in the watch folder",
                metadata: ["stage": "claim", "error": "\((error as? SystemCallError)?.reason ?? "\(type(of: error))")"])
            return claimed.isEmpty ? nil : claimed
        }
        environment.metrics.record(stage: "claim", seconds: Self.now() - started)
        return claimed
    }

    // MARK: Scheduling

    /// Admits the queued jobs that are due into the pipeline, within `concurrency`, the memory
    /// budget and the room in front of the decode stage, one job per series at a time (the
    /// newest: it gathers the older ones). Returns the jobs still waiting, and those that must
    /// be resumed later (their gathering could not be recorded).
    private func schedule(
        _ queue: [JobRecord], spool: Spool, running: RunningJobs, stages: PipelineStages,
        config: DaemonConfiguration, now: Double
    ) async -> (waiting: [JobRecord], stranded: [String]) {
        var waiting: [JobRecord] = []
        var stranded: [String] = []
        var merged = Set<String>()
        // Of several queued jobs of one series only the newest starts; it takes the others' files.
        var newest: [String: String] = [:]
        for job in queue { if let uid = job.seriesUID { newest[uid] = max(newest[uid] ?? job.id, job.id) } }
        let budget = Self.jobBudgetMB(config, processor: environment.processor)
        for job in queue {
            if merged.contains(job.id) { continue }
            let count = await running.count
            let reserved = await running.reservedMB
            let busySeries = await running.seriesUIDs
            let need = environment.processor.workingSetMB(inputBytes: job.inputBytes)
            let due = (job.nextAttemptAt ?? 0) <= now
            let fits = Self.admits(
                need: need, inFlight: count, reservedMB: reserved, budgetMB: budget,
                concurrency: config.limits.concurrency)
            let room = await stages.decode.hasRoom
            let isNewest = job.seriesUID.map { newest[$0] == job.id } ?? true
            if !due || !fits || !room || !isNewest || job.seriesUID.map(busySeries.contains) == true {
                waiting.append(job)
                continue
            }
            var job = job
            do {
                switch try spool.gather(job, now: Self.now()) {
                case .ready(let gathered, let mergedIDs):
                    let claimedFiles = job.fileCount
                    job = gathered
                    merged.formUnion(mergedIDs)
                    if gathered.fileCount != claimedFiles {
                        logger.notice(
                            "late files: the series is processed with every file held",
                            metadata: [
                                "job.id": "\(job.id)", "series.uid": "\(job.seriesUID ?? "")", "stage": "claim",
                                "files": .stringConvertible(job.fileCount),
                                "merged": "\(mergedIDs.joined(separator: ","))"
                            ])
                    }
                case .duplicate(let earlier):
                    _ = try spool.completeDuplicate(job, of: earlier, retention: config.retention, now: Self.now())
                    logger.notice(
                        "series already processed; not processed again",
                        metadata: [
                            "job.id": "\(job.id)", "series.uid": "\(job.seriesUID ?? "")", "stage": "commit",
                            "earlier_job": "\(earlier.id)"
                        ])
                    continue
                }
            } catch {
                logger.error(
                    "job could not gather its series; it resumes from its last durable step",
                    metadata: ["job.id": "\(job.id)", "error": "\(error)"])
                stranded.append(job.id)
                continue
            }
            if need > budget {
                logger.warning(
                    "job larger than the memory budget runs alone",
                    metadata: ["job.id": "\(job.id)", "working_set_mb": "\(need)", "budget_mb": "\(budget)"])
            }
            let reservation = environment.processor.workingSetMB(inputBytes: job.inputBytes)
            await running.start(job.id, reservationMB: reservation, seriesUID: job.seriesUID)
            let runner = JobRunner(
                spool: spool, running: running, stages: stages, config: config, environment: environment, logger: logger
            )
            Task { await runner.run(job) }
        }
        return (waiting.filter { !merged.contains($0.id) }, stranded)
    }

    /// Whether a job needing `need` MB may enter the pipeline now: within `concurrency`, and its
    /// working set fits beside the reservations of the jobs in flight. A job larger than the
    /// whole budget runs alone.
    static func admits(need: Int, inFlight: Int, reservedMB: Int, budgetMB: Int, concurrency: Int) -> Bool {
        inFlight < concurrency && (inFlight == 0 || reservedMB + need <= budgetMB)
    }

    /// What the jobs may reserve together: the budget less what the processor holds anyway.
    static func jobBudgetMB(_ config: DaemonConfiguration, processor: any SeriesProcessor) -> Int {
        max(64, config.limits.memoryBudgetMB - processor.residentMB)
    }

    // MARK: Shutdown and reload

    private func drain(running: RunningJobs, spool: Spool, ledger: any JobLedger, config: DaemonConfiguration)
        async throws
    {
        environment.notifier.stopping()
        let deadline = Self.now() + config.limits.drainSeconds
        let runningNow = await running.count
        logger.notice(
            "draining",
            metadata: ["running": .stringConvertible(runningNow), "drain_seconds": "\(config.limits.drainSeconds)"])
        while await running.count > 0 && Self.now() < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for id in await running.abandonRunning() {
            if let job = try ledger.job(id: id), job.state == .running {
                _ = try spool.checkpoint(job)
                logger.notice("job checkpointed for the next start", metadata: ["job.id": "\(id)", "stage": "process"])
            }
        }
        // Jobs already committing finish their renames (short) before the process exits.
        while await running.count > 0 { try? await Task.sleep(for: .milliseconds(50)) }
        // What this worker has not finished goes back at once, for any worker (this one at its next start).
        do {
            let held = try ledger.jobs(in: JobState.unfinished).filter { $0.leaseHolder == spool.worker }
            try ledger.release(held)
            try ledger.heartbeat(Self.workerRecord(config, .stopped))
            if !held.isEmpty {
                logger.notice("unfinished jobs handed back", metadata: ["jobs": .stringConvertible(held.count)])
            }
        } catch {
            logger.warning(
                "unfinished jobs not handed back; they wait for the lease to expire", metadata: ["error": "\(error)"])
        }
        // Peak resident memory of the daemon (VmHWM: ru_maxrss would carry the spawning process's
        // peak across exec) and of its largest worker (children waited for; a worker's figure
        // includes what it shared with the daemon when it was spawned), against the budget.
        var children = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        logger.notice(
            "daemon stopped",
            metadata: [
                "peak_rss_mb": .stringConvertible(Self.peakResidentKiB() / 1024),
                "worker_peak_rss_mb": .stringConvertible(children.ru_maxrss / 1024),
                "memory_budget_mb": .stringConvertible(config.limits.memoryBudgetMB)
            ])
    }

    /// VmHWM of this process in KiB (0 when /proc is not there).
    static func peakResidentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    /// Re-reads the configuration file; keeps the current one when the new one is invalid.
    private func reload(current: DaemonConfiguration, watcher: FolderWatcher) -> DaemonConfiguration {
        guard let file = environment.configFile else {
            logger.notice("SIGHUP: no configuration file to reload")
            return current
        }
        environment.notifier.reloading()
        defer { environment.notifier.ready(status: "configuration reloaded") }
        do {
            var next = try ConfigurationLoader.load(file: file)
            if next.paths != current.paths || next.metrics != current.metrics {
                logger.warning("SIGHUP: [paths] and [metrics] changes take effect at the next start")
                next.paths = current.paths
                next.metrics = current.metrics
            }
            environment.logLevel.level = next.logLevel
            do {
                try environment.processor.reload(configuration: next, logger: logger)
            } catch {
                logger.error(
                    "SIGHUP: the job could not be reloaded; the running one stays", metadata: ["error": "\(error)"])
            }
            watcher.markerFile = next.ingest.markerFile
            logger.notice("configuration reloaded", metadata: ["config": "\(file)"])
            return next
        } catch {
            logger.error("SIGHUP: configuration not reloaded, the running one stays", metadata: ["error": "\(error)"])
            return current
        }
    }
}

/// Flags the signal handlers set and the loop reads.
final class LoopFlags: @unchecked Sendable {
    // @unchecked: both flags are only touched under `lock`.
    private let lock = NSLock()
    private var drainRequested = false
    private var reloadRequested = false

    var draining: Bool { lock.withLock { drainRequested } }
    func beginDrain() { lock.withLock { drainRequested = true } }
    func requestReload() { lock.withLock { reloadRequested = true } }
    func takeReload() -> Bool {
        lock.withLock {
            defer { reloadRequested = false }
            return reloadRequested
        }
    }
}
