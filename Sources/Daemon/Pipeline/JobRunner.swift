import Foundation
import Logging
import Volumes

/// One attempt at one job through the pipeline: start (counted in the ledger), decode, compute
/// and write into the staging folder, each in its stage, then commit, quarantine, retry later
/// or fail. The job keeps its memory reservation from admission to the end.
struct JobRunner: Sendable {
    let spool: Spool
    let running: RunningJobs
    let stages: PipelineStages
    let config: DaemonConfiguration
    let environment: DaemonService.Environment
    let logger: Logger

    func run(_ queued: JobRecord) async {
        var logger = logger
        logger[metadataKey: "job.id"] = "\(queued.id)"
        if let uid = queued.seriesUID { logger[metadataKey: "series.uid"] = "\(uid)" }
        var stranded = false
        defer { Task { [stranded] in stranded ? await running.strand(queued.id) : await running.finish(queued.id) } }
        let now = { Date().timeIntervalSince1970 }
        do {
            let job = try spool.startAttempt(queued, now: now())
            logger.info(
                "job started",
                metadata: [
                    "stage": "process", "attempt": .stringConvertible(job.attempts),
                    "files": .stringConvertible(job.fileCount)
                ])
            let started = now()
            let outcome: ProcessingOutcome
            do {
                guard let result = try await process(job, processor: environment.processor, logger: logger) else {
                    return
                }
                outcome = result
            } catch let error as SystemCallError where error.isTransient {
                try await retryLater(job, error: error, logger: logger)
                return
            } catch let crash as WorkerCrash {
                try await workerCrashed(job, crash, logger: logger)
                return
            } catch is CancellationError {
                return
            } catch {
                guard await running.beginCommit(job.id) else { return }
                let reason = QuarantineReason(processingFailure: error)
                _ = try spool.quarantine(job, reason: reason, now: now())
                environment.metrics.seriesQuarantined.increment()
                logger.error(
                    "job quarantined", metadata: ["stage": "quarantine", "code": "\(reason.code)", "error": "\(error)"])
                return
            }
            let processSeconds = now() - started
            environment.metrics.record(stage: "process", seconds: processSeconds)
            guard await running.beginCommit(job.id) else { return }
            try finish(job, outcome: outcome, processSeconds: processSeconds, logger: logger)
        } catch is Spool.SeriesBusy {
            // Another worker runs a job of this series: try again in a second (the later job
            // then gathers the earlier one's inputs, or finds them all processed).
            var waiting = queued
            waiting.nextAttemptAt = now() + 1
            await running.requeue(waiting)
            logger.debug("series running on another worker; job waits", metadata: ["stage": "process"])
        } catch LedgerError.leaseLost(_, let holder) {
            // Another worker took the job (this one was silent past its lease, or left it
            // waiting in its queue): it is that worker's now. Nothing of this attempt was
            // recorded; its attempt folder goes with the job's spool folder.
            logger.notice(
                "job taken by another worker; this worker leaves it",
                metadata: ["stage": "process", "holder": "\(holder ?? "none")"])
        } catch {
            // The ledger or the spool itself failed (disk full while recording a step): the job
            // stays at its last durable step, and the loop resumes it from there after a delay.
            stranded = true
            logger.error(
                "job step could not be recorded; it resumes from its last durable step", metadata: ["error": "\(error)"]
            )
        }
    }

    /// decode → compute → write, each inside its stage; nil once shutdown has checkpointed the job.
    private func process<P: SeriesProcessor>(_ job: JobRecord, processor: P, logger: Logger) async throws
        -> ProcessingOutcome?
    {
        let series = spool.claimedSeries(job)
        let metrics = environment.metrics
        var clock = Date()
        func lap(_ stage: String) {
            let seconds = Date().timeIntervalSince(clock)
            metrics.record(stage: stage, seconds: seconds)
            logger.info(
                "stage finished",
                metadata: ["stage": "\(stage)", "duration_ms": .stringConvertible(Int(seconds * 1000))])
            clock = Date()
        }

        await stages.decode.enter(leaving: nil)
        guard await running.isActive(job.id) else {
            await stages.decode.leave()
            return nil
        }
        clock = Date()
        let decoding: Decoding<P.Decoded>
        do { decoding = try await processor.decode(series: series, logger: logger) } catch {
            await stages.decode.leave()
            throw error
        }
        lap("decode")
        guard case .decoded(let decoded, let workingSetMB) = decoding else {
            await stages.decode.leave()
            if case .rejected(let reason) = decoding { return .rejected(reason) }
            return nil
        }
        await running.adjust(job.id, reservationMB: workingSetMB)

        await stages.compute.enter(leaving: stages.decode)
        guard await running.isActive(job.id) else {
            await stages.compute.leave()
            return nil
        }
        clock = Date()
        let computed: P.Computed
        do { computed = try await processor.compute(decoded, series: series, logger: logger) } catch {
            await stages.compute.leave()
            throw error
        }
        lap("compute")

        await stages.write.enter(leaving: stages.compute)
        guard await running.isActive(job.id) else {
            await stages.write.leave()
            return nil
        }
        clock = Date()
        do {
            let outcome = try await processor.write(
                computed, series: series, into: spool.stagingFolder(of: job), logger: logger)
            await stages.write.leave()
            lap("write")
            return outcome
        } catch {
            await stages.write.leave()
            throw error
        }
    }

    private func retryLater(_ job: JobRecord, error: SystemCallError, logger: Logger) async throws {
        guard await running.beginCommit(job.id) else { return }
        let now = Date().timeIntervalSince1970
        let delay = config.limits.retrySeconds * pow(2, Double(max(0, job.attempts - 1)))
        let next = try spool.deferRetry(
            job, reason: "\(error)", retryAt: now + delay, maxAttempts: config.limits.maxAttempts, now: now)
        if next.state == .failed {
            environment.metrics.seriesFailed.increment()
            logger.error(
                "job failed", metadata: ["stage": "process", "code": "\(next.reasonCode ?? "")", "error": "\(error)"])
        } else {
            await running.requeue(next)
            environment.metrics.retries.increment()
            logger.warning(
                "transient error; job will be retried",
                metadata: ["stage": "process", "error": "\(error)", "retry_in_s": "\(delay)"])
        }
    }

    /// A crashed worker costs this job an attempt, nothing else: it is tried again after the
    /// retry delay, and quarantined once its attempts are spent (the same bytes crash the same way).
    private func workerCrashed(_ job: JobRecord, _ crash: WorkerCrash, logger: Logger) async throws {
        guard await running.beginCommit(job.id) else { return }
        let now = Date().timeIntervalSince1970
        if job.attempts >= config.limits.maxAttempts {
            let reason = QuarantineReason(
                code: DaemonCode.workerCrashed.rawValue, sentence: DaemonCode.workerCrashed.sentence,
                detail: "\(crash) on each of \(job.attempts) attempts")
            _ = try spool.quarantine(job, reason: reason, now: now)
            environment.metrics.seriesQuarantined.increment()
            logger.error(
                "job quarantined", metadata: ["stage": "quarantine", "code": "\(reason.code)", "error": "\(crash)"])
        } else {
            let delay = config.limits.retrySeconds * pow(2, Double(max(0, job.attempts - 1)))
            let next = try spool.deferRetry(
                job, reason: "\(crash)", retryAt: now + delay, maxAttempts: config.limits.maxAttempts, now: now,
                code: .workerCrashed)
            await running.requeue(next)
            environment.metrics.retries.increment()
            logger.warning(
                "worker crashed; job will be retried",
                metadata: ["stage": "process", "error": "\(crash)", "retry_in_s": "\(delay)"])
        }
    }

    private func finish(_ job: JobRecord, outcome: ProcessingOutcome, processSeconds: Double, logger: Logger) throws {
        let metrics = environment.metrics
        let now = { Date().timeIntervalSince1970 }
        switch outcome {
        case .completed(let uid):
            let commitStart = now()
            var done = try spool.commit(job, seriesUID: uid, retention: config.retention, now: now())
            done.durationMS = Int(processSeconds * 1000)
            try spool.ledger.update(done)
            metrics.record(stage: "commit", seconds: now() - commitStart)
            metrics.seriesDone.increment()
            logger.info(
                "series done",
                metadata: [
                    "stage": "commit", "series.uid": "\(done.seriesUID ?? "")",
                    "files": .stringConvertible(done.fileCount),
                    "result": "\(done.resultDir ?? "")", "duration_ms": .stringConvertible(done.durationMS ?? 0)
                ])
            do {
                let pruned = try spool.pruneReplaced(keepSeconds: config.keepReplacedDays * 86_400, now: now())
                if !pruned.isEmpty {
                    logger.info(
                        "superseded results deleted",
                        metadata: ["stage": "commit", "count": .stringConvertible(pruned.count)])
                }
            } catch {
                logger.warning("superseded results not deleted", metadata: ["stage": "commit", "error": "\(error)"])
            }
        case .rejected(let reason):
            let start = now()
            _ = try spool.quarantine(job, reason: reason, now: now())
            metrics.record(stage: "quarantine", seconds: now() - start)
            metrics.seriesQuarantined.increment()
            logger.warning(
                "series quarantined",
                metadata: [
                    "stage": "quarantine", "code": "\(reason.code)",
                    "duration_ms": .stringConvertible(Int(processSeconds * 1000))
                ])
        }
    }
}

/// The three stages every job goes through, in order.
struct PipelineStages: Sendable {
    let decode = PipelineStage(name: "decode")
    let compute = PipelineStage(name: "compute")
    let write = PipelineStage(name: "write")

    var all: [PipelineStage] { [decode, compute, write] }
}
