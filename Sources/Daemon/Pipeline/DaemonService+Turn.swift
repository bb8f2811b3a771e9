import Foundation

/// What one turn of the daemon's loop carries to the next.
struct LoopTurnState {
    /// Claimed jobs waiting for a slot, their retry time or their series' running job.
    var queue: [JobRecord]
    /// Intake is paused under the disk watermark (files stay in the watch folder).
    var paused = false
    /// Jobs whose step could not be recorded, and when to try resuming them.
    var stranded: [String: Double] = [:]
    var lastWatchdog = 0.0
    var lastStatus = ""
    var lastHeartbeat = 0.0
    var lastTakeOver = 0.0
    var lastBacklog = 0.0
    /// Intake waits while the job ledger cannot be reached (since then; nil: reachable).
    var ledgerAwaySince: Double?
}

/// The loop's long-lived parts, handed to each step together.
struct LoopParts {
    let watcher: FolderWatcher
    let spool: Spool
    let ledger: any JobLedger
    let running: RunningJobs
    let stages: PipelineStages
}

/// The steps of one turn of `DaemonService`'s loop, in the order it takes them.
extension DaemonService {
    /// Intake pauses while the work folder's free space is under `[ingest] disk_watermark_mb`.
    func updateIntakePause(_ turn: inout LoopTurnState, config: DaemonConfiguration) {
        let free = FileSystem.freeBytes(config.paths.work) ?? Int64.max
        let belowWatermark = config.ingest.diskWatermarkMB > 0 && free < Int64(config.ingest.diskWatermarkMB) << 20
        guard belowWatermark != turn.paused else { return }
        turn.paused = belowWatermark
        environment.metrics.intakePaused.set(to: turn.paused ? 1.0 : 0.0)
        if turn.paused {
            logger.warning(
                "intake paused: free disk below the watermark",
                metadata: ["free_mb": "\(free >> 20)", "watermark_mb": "\(config.ingest.diskWatermarkMB)"])
        } else {
            logger.notice("intake resumed", metadata: ["free_mb": "\(free >> 20)"])
        }
    }

    /// Groups and claims every quiet folder of the watch folder; stops at a claim's transient
    /// error. While the job ledger is away, intake waits (files stay where they are) and tries
    /// again every `retry_seconds`; the pause and the resumption are logged once each.
    func takeInReadyFolders(
        _ turn: inout LoopTurnState, _ parts: LoopParts, config: DaemonConfiguration, flags: LoopFlags,
        now: Double
    ) async {
        if let since = turn.ledgerAwaySince, now - since < config.limits.retrySeconds { return }
        for folder in parts.watcher.readyFolders(now: now, quietSeconds: config.ingest.quietSeconds) {
            guard !flags.draining else { break }
            let claimed: [JobRecord]?
            do {
                claimed = try await intake(
                    folder, spool: parts.spool, quietSeconds: config.ingest.quietSeconds, now: now)
            } catch {
                if turn.ledgerAwaySince == nil {
                    environment.metrics.intakePaused.set(to: 1)
                    logger.error("intake paused: the job ledger cannot be reached", metadata: ["error": "\(error)"])
                }
                turn.ledgerAwaySince = now
                return
            }
            if turn.ledgerAwaySince != nil {
                turn.ledgerAwaySince = nil
                environment.metrics.intakePaused.set(to: turn.paused ? 1 : 0)
                logger.notice("intake resumed: the job ledger is back")
            }
            guard let claimed else { break }
            turn.queue += claimed
            parts.watcher.claimed(folder, now: Self.now())
        }
    }

    /// Every third of the lease, the heartbeat that keeps this worker's jobs; on a shared ledger, every second (or
    /// third of the lease), the jobs no live worker holds taken: handed back by a worker that
    /// stopped, or held by one silent for longer than the lease (each resumed from its last
    /// durable step).
    func keepLeases(
        _ turn: inout LoopTurnState, _ parts: LoopParts, config: DaemonConfiguration, flags: LoopFlags, now: Double
    ) {
        do {
            if now - turn.lastHeartbeat >= config.leaseSeconds / 3 {
                turn.lastHeartbeat = now
                try parts.ledger.heartbeat(Self.workerRecord(config, flags.draining ? .draining : .active))
            }
            // An embedded ledger has one worker (the work folder's lock): nothing to take over.
            guard config.sharesLedger, !flags.draining, now - turn.lastTakeOver >= min(1, config.leaseSeconds / 3)
            else { return }
            turn.lastTakeOver = now
            let taken = try parts.spool.takeOver(
                retention: config.retention, maxAttempts: config.limits.maxAttempts, now: now, logger: logger)
            if !taken.isEmpty {
                logger.notice(
                    "jobs no live worker holds taken over", metadata: ["jobs": .stringConvertible(taken.count)])
            }
            turn.queue += taken
        } catch {
            logger.warning("lease not renewed; trying again", metadata: ["error": "\(error)"])
        }
    }

    /// Once a second, a worker on a shared ledger with a free slot and nothing due in its own
    /// queue takes queued jobs other workers have left waiting for `backlogWaitSeconds`.
    func helpWithBacklog(
        _ turn: inout LoopTurnState, _ parts: LoopParts, config: DaemonConfiguration, flags: LoopFlags, now: Double
    ) async {
        guard config.sharesLedger, !flags.draining, !turn.paused, now - turn.lastBacklog >= 1 else { return }
        turn.lastBacklog = now
        let free = config.limits.concurrency - (await parts.running.count)
        guard free > 0, !turn.queue.contains(where: { ($0.nextAttemptAt ?? 0) <= now }) else { return }
        do {
            let taken = try parts.ledger.takeBacklog(
                for: parts.spool.worker, waitingSeconds: Self.backlogWaitSeconds, now: now, limit: free)
            if !taken.isEmpty {
                logger.notice(
                    "queued jobs of another worker taken", metadata: ["jobs": .stringConvertible(taken.count)])
            }
            turn.queue += taken
        } catch {
            logger.warning("backlog not read; trying again", metadata: ["error": "\(error)"])
        }
    }

    /// How long a claimed job waits for its own worker before an idle one may take it.
    static let backlogWaitSeconds = 2.0

    /// This process as the ledger's worker table shows it.
    static func workerRecord(_ config: DaemonConfiguration, _ state: WorkerRecord.State) -> WorkerRecord {
        WorkerRecord(id: config.ledgerWorker, host: DaemonConfiguration.hostName, pid: Int(getpid()), state: state)
    }

    /// Claims run in this loop, so a job of this worker still receiving here is one whose claim
    /// failed half-way (disk full): finish it from claim.json.
    func resumeInterruptedClaims(
        _ turn: inout LoopTurnState, _ parts: LoopParts, config: DaemonConfiguration, now: Double
    ) {
        guard let cut = try? parts.ledger.jobs(in: [.receiving]), !cut.isEmpty else { return }
        for job in cut where job.leaseHolder == parts.spool.worker {
            if let resumed = try? parts.spool.resume(
                job, retention: config.retention, maxAttempts: config.limits.maxAttempts, now: now)
            {
                turn.queue.append(resumed)
            }
        }
    }

    /// Jobs handed back by the pipeline (deferred) join the queue; jobs whose step could not be
    /// recorded are resumed from the ledger once their retry time has come.
    func resumeStrandedJobs(_ turn: inout LoopTurnState, _ parts: LoopParts, config: DaemonConfiguration, now: Double)
        async
    {
        turn.queue += await parts.running.takeDeferred()
        for id in await parts.running.takeStranded() {
            turn.stranded[id] = now + config.limits.retrySeconds
        }
        for (id, due) in turn.stranded where due <= now {
            do {
                // A job another worker took meanwhile is its own now.
                if let job = try parts.ledger.job(id: id), job.leaseHolder == parts.spool.worker,
                    let resumed = try parts.spool.resume(
                        job, retention: config.retention, maxAttempts: config.limits.maxAttempts, now: now)
                {
                    turn.queue.append(resumed)
                }
                turn.stranded[id] = nil
            } catch {
                turn.stranded[id] = now + config.limits.retrySeconds
            }
        }
    }

    /// Gauges, the systemd watchdog and status line.
    func publishTurn(_ turn: inout LoopTurnState, _ parts: LoopParts, now: Double) async {
        let env = environment
        let runningCount = await parts.running.count
        env.metrics.queueDepth.set(to: Double(turn.queue.count))
        env.metrics.running.set(to: Double(runningCount))
        env.metrics.reservedMemory.set(
            to: Double(await parts.running.reservedMB + env.processor.residentMB) * 1_048_576)
        for stage in parts.stages.all {
            env.metrics.record(stage: stage.name, queued: await stage.depth, busy: await stage.busy)
        }
        env.metrics.pendingFolders.set(to: Double(parts.watcher.pendingFolders))
        if let interval = env.notifier.watchdogInterval, now - turn.lastWatchdog >= interval {
            env.notifier.watchdog()
            turn.lastWatchdog = now
        }
        let status =
            turn.paused
            ? "intake paused (disk below watermark); \(runningCount) running, \(turn.queue.count) queued"
            : "\(runningCount) running, \(turn.queue.count) queued, \(parts.watcher.pendingFolders) folders receiving"
        if status != turn.lastStatus {
            env.notifier.status(status)
            turn.lastStatus = status
        }
    }
}
