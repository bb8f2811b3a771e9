import DurableFiles
import Foundation
import Logging

/// The crash-safe life of a job on disk. Every method moves the job one step and records it in
/// the ledger; each step is idempotent, so `recover()` after a kill at any instant finishes the
/// interrupted step and never redoes a finished one.
///
/// Layout: `<spool>/<job>/claim.json`, `input/` (the claimed files), `attempt-<generation>/`
/// (results being written under one lease), `staging/` (a finished attempt's results).
/// Committing renames the attempt's folder to `staging/`, records the step, and renames
/// `staging/` to `<output>/<SeriesInstanceUID>/`.
///
/// Workers sharing a ledger share the spool. Each job is under one worker's lease; every
/// step's ledger update is fenced on the lease's generation (LedgerError.leaseLost), and a
/// worker writes results only into its own attempt's folder, so a worker that stalled past its
/// lease and woke up can neither record a step nor touch the files of the attempt that replaced it.
public struct Spool: Sendable {
    public let paths: DaemonConfiguration.Paths
    public let spoolPath: String
    public let ledger: any JobLedger
    /// Where a done job's DICOM objects are owed ([[dicom.destinations]]).
    public let destinations: [DaemonConfiguration.Destination]
    /// This worker's name in the ledger (`[ledger] worker`): the holder of the jobs it claims.
    public let worker: String
    public let leaseSeconds: Double
    /// Other workers may be claiming into this spool (the ledger is shared).
    let isShared: Bool

    public init(configuration: DaemonConfiguration, ledger: any JobLedger) {
        self.paths = configuration.paths
        self.spoolPath = configuration.spoolPath
        self.ledger = ledger
        self.destinations = configuration.dicom.destinations
        self.worker = configuration.ledgerWorker
        self.leaseSeconds = configuration.leaseSeconds
        self.isShared = configuration.sharesLedger
    }

    /// The outbox entries a committed job owes: each destination's objects that its result holds.
    func owed(by job: JobRecord, now: Double) -> [OutboxEntry] {
        guard let folder = job.resultDir else { return [] }
        return destinations.flatMap { destination in
            destination.send.files.map { "\(folder)/\($0)" }.filter(FileSystem.exists).map { file in
                OutboxEntry(
                    jobID: job.id, seriesUID: job.seriesUID, destination: destination.name, file: file, now: now)
            }
        }
    }

    func jobFolder(_ id: String) -> String { "\(spoolPath)/\(id)" }
    public func inputFolder(_ id: String) -> String { "\(spoolPath)/\(id)/input" }
    func stagingFolder(_ id: String) -> String { "\(spoolPath)/\(id)/staging" }
    /// Where one lease's attempts write: no other worker's attempt writes there.
    func attemptFolder(_ job: JobRecord) -> String { "\(jobFolder(job.id))/attempt-\(job.leaseGeneration)" }

    /// Creates the folders and checks that each is a folder the daemon can write, and that they
    /// share one filesystem (claims and commits are renames). Every problem is a
    /// `ConfigurationError` naming the key and the path (`lcovnet serve` exits 78).
    /// - Parameter file: the configuration file, for the error line.
    public static func prepareFolders(_ c: DaemonConfiguration, file: String = "configuration") throws {
        let folders = [
            ("paths.watch", c.paths.watch), ("paths.work", c.paths.work), ("paths.output", c.paths.output),
            ("paths.quarantine", c.paths.quarantine), ("paths.archive", c.paths.archive), ("paths.spool", c.spoolPath)
        ]
        let access = "give the daemon's user (lcovnet) write access to it, or name another folder"
        for (key, path) in folders {
            do {
                try FileSystem.makeDirectories(path)
            } catch {
                throw ConfigurationError(
                    file: file, key: key,
                    problem: "\(path) cannot be created (\(String(cString: strerror(error.errno))))",
                    fix: "name a folder, or a path whose parents are folders the daemon may write")
            }
            guard FileSystem.isDirectory(path) else {
                throw ConfigurationError(
                    file: file, key: key, problem: "\(path) is not a folder",
                    fix: "name a folder (it is created when missing), not a file")
            }
            // Permission bits do not bind root (and say nothing of read-only mounts or immutable
            // folders): create and remove a file instead of asking access(2).
            let probe = "\(path)/.lcovnet-write-probe-\(getpid())"
            let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw ConfigurationError(
                    file: file, key: key, problem: "\(path) is not writable (\(String(cString: strerror(errno))))",
                    fix: access)
            }
            close(fd)
            unlink(probe)
        }
        let device = FileSystem.info(c.paths.work)?.device
        for (key, path) in folders where FileSystem.info(path)?.device != device {
            throw ConfigurationError(
                file: file, key: key, problem: "\(path) is on another filesystem than paths.work",
                fix: "put watch, work, spool, output, quarantine and archive on one filesystem (series move by rename)")
        }
    }

    /// The result folder's name: the SeriesInstanceUID made safe (SafeFileName, the rule
    /// `segment` follows too), or the job id.
    public static func resultName(seriesUID: String?, jobID: String) -> String {
        guard let uid = seriesUID?.trimmingCharacters(in: .whitespaces), !uid.isEmpty else { return jobID }
        return SafeFileName.make(uid)
    }

    // MARK: Claim

    /// Takes `files` (absolute paths in one watch subfolder) into a new job: claim.json first,
    /// then a ledger row, then one rename per file.
    public func claim(
        files: [String], seriesUID: String?, source: String, rejection: QuarantineReason? = nil,
        now: Double
    ) throws -> JobRecord {
        let id = JobID.make()
        try FileSystem.makeDirectory(jobFolder(id))
        try FileSystem.makeDirectory(inputFolder(id))
        var used = Set<String>()
        var entries: [ClaimManifest.Entry] = []
        for file in files {
            var name = FileSystem.name(file)
            while used.contains(name) { name = "_" + name }
            used.insert(name)
            entries.append(.init(from: file, name: name))
        }
        let manifest = ClaimManifest(
            jobID: id, seriesUID: seriesUID, source: source, entries: entries, rejection: rejection)
        try manifest.write("\(jobFolder(id))/claim.json")
        try FileSystem.sync(spoolPath)
        let bytes = files.reduce(Int64(0)) { $0 + (FileSystem.info($1)?.size ?? 0) }
        var job = JobRecord(
            id: id, seriesUID: seriesUID, source: source, state: .receiving, step: .claiming,
            fileCount: files.count, inputBytes: bytes, createdAt: now, leaseHolder: worker)
        job.reasonCode = rejection?.code
        job.reason = rejection?.sentence
        do {
            try ledger.insert(job)
        } catch {
            // No file has moved: the folder is dropped, and the claim is tried again later.
            try? FileSystem.removeTree(jobFolder(id))
            throw error
        }
        return try finishClaim(job, now: now)
    }

    /// Moves every file of claim.json that is still in the watch folder; fsyncs both folders.
    func finishClaim(_ job: JobRecord, now: Double) throws -> JobRecord {
        let manifest = try ClaimManifest.read("\(jobFolder(job.id))/claim.json")
        let sources = try moveIntoInput(manifest.entries, of: job.id)
        for folder in sources where FileSystem.exists(folder) { try FileSystem.sync(folder) }
        var job = job
        job.state = .queued
        job.step = .claimed
        job.queuedAt = now
        try ledger.update(job)
        return job
    }

    /// Moves each manifest entry still at its origin into the job's input folder (a rerun after a
    /// crash skips what already moved), fsyncs the input folder, and returns every origin folder.
    func moveIntoInput(_ entries: [ClaimManifest.Entry], of id: String) throws -> Set<String> {
        var origins = Set<String>()
        for entry in entries {
            let target = "\(inputFolder(id))/\(entry.name)"
            if FileSystem.exists(entry.from) && !FileSystem.exists(target) { try FileSystem.rename(entry.from, target) }
            origins.insert(FileSystem.parent(entry.from))
        }
        try FileSystem.sync(inputFolder(id))
        return origins
    }

    // MARK: Processing

    /// Another job of the series is running on another worker: this one waits its turn.
    public struct SeriesBusy: Error {}

    /// Records the start of an attempt before any work, so that a crash during it counts;
    /// throws `SeriesBusy` (nothing recorded) while another job of the series runs anywhere.
    public func startAttempt(_ job: JobRecord, now: Double) throws -> JobRecord {
        var job = job
        job.state = .running
        job.step = .processing
        job.attempts += 1
        job.startedAt = now
        job.nextAttemptAt = nil
        guard try ledger.startAttempt(job) else { throw SeriesBusy() }
        try FileSystem.removeTree(attemptFolder(job))
        try FileSystem.makeDirectory(attemptFolder(job))
        return job
    }

    /// The series of a running job, as the processor sees it.
    public func claimedSeries(_ job: JobRecord) -> ClaimedSeries {
        let input = inputFolder(job.id)
        return ClaimedSeries(
            jobID: job.id, seriesUID: job.seriesUID, inputDirectory: input,
            files: FileSystem.entries(input).map { "\(input)/\($0)" })
    }

    /// Where the processor writes a running job's results.
    public func stagingFolder(of job: JobRecord) -> String { attemptFolder(job) }

    /// An interrupted attempt (shutdown) goes back to the queue without counting.
    public func checkpoint(_ job: JobRecord) throws -> JobRecord {
        var job = job
        job.state = .queued
        job.step = .claimed
        job.attempts = max(0, job.attempts - 1)
        try ledger.update(job)
        return job
    }

    /// A transient failure: back to the queue until `retryAt`, or failed when attempts are used up.
    public func deferRetry(
        _ job: JobRecord, reason: String, retryAt: Double, maxAttempts: Int, now: Double,
        code: DaemonCode = .transientError
    ) throws -> JobRecord {
        if job.attempts >= maxAttempts {
            return try fail(
                job, code: DaemonCode.attemptsExhausted.rawValue,
                reason: "\(DaemonCode.attemptsExhausted.sentence) Last error: \(reason)", now: now)
        }
        var job = job
        job.state = .queued
        job.step = .claimed
        job.nextAttemptAt = retryAt
        job.reasonCode = code.rawValue
        job.reason = reason
        try ledger.update(job)
        return job
    }

    /// Gives up on a job; its inputs stay in the spool, nothing is deleted.
    public func fail(_ job: JobRecord, code: String, reason: String, now: Double) throws -> JobRecord {
        var job = job
        job.state = .failed
        job.step = .finished
        job.reasonCode = code
        job.reason = reason
        job.finishedAt = now
        try ledger.update(job)
        return job
    }

    // MARK: Commit and retention

    /// Renames the staging folder to `<output>/<name>`; then applies retention.
    public func commit(_ job: JobRecord, seriesUID: String?, retention: DaemonConfiguration.Retention, now: Double)
        throws -> JobRecord
    {
        // The finished attempt becomes `staging`. A `staging` already there is a finished attempt
        // of a worker that lost the lease before recording its commit: never written again, replaced.
        let staging = stagingFolder(job.id)
        if FileSystem.exists(staging) { try FileSystem.removeTree(staging) }
        try FileSystem.rename(attemptFolder(job), staging)
        var job = job
        if job.seriesUID == nil, let seriesUID { job.seriesUID = seriesUID }
        job.step = .committing
        job.resultDir = "\(paths.output)/\(Self.resultName(seriesUID: job.seriesUID, jobID: job.id))"
        try ledger.update(job)
        return try finishCommit(job, retention: retention, now: now)
    }

    func finishCommit(_ job: JobRecord, retention: DaemonConfiguration.Retention, now: Double) throws -> JobRecord {
        let staging = stagingFolder(job.id)
        let target = job.resultDir!
        if FileSystem.exists(staging) {
            if let old = FileSystem.info(target) {
                // A result is replaced (late files of the series, or a folder the ledger does not
                // know): the two folders swap in one step, so the result is always whole. The new
                // folder's inode is recorded first: after a crash, a target holding it means the
                // swap happened and `staging` holds the old result.
                let marker = "\(jobFolder(job.id))/commit.json"
                let recorded =
                    (try? JSONDecoder().decode(
                        [String: UInt64].self, from: Data(contentsOf: URL(fileURLWithPath: marker))))?["inode"]
                if recorded != old.inode {
                    try FileSystem.sync(staging)
                    guard let new = FileSystem.info(staging) else {
                        throw SystemCallError("stat", path: staging, errno: ENOENT)
                    }
                    try FileSystem.writeAtomically(Array(try JSONEncoder().encode(["inode": new.inode])), to: marker)
                    try FileSystem.exchange(staging, target)
                    try FileSystem.sync(paths.output)
                }
                // The superseded result is kept aside, outside the results.
                try FileSystem.makeDirectories("\(paths.work)/replaced")
                try FileSystem.rename(staging, "\(paths.work)/replaced/\(FileSystem.name(target))-\(job.id)")
                try FileSystem.sync("\(paths.work)/replaced")
            } else {
                try FileSystem.sync(staging)
                // The daemon is the only writer of the output folder: nothing can appear at the
                // target between the check and the rename.
                try FileSystem.rename(staging, target)
                try FileSystem.sync(paths.output)
            }
        }
        var job = job
        job.step = .retaining
        try ledger.update(job)
        return try retain(job, retention: retention, now: now)
    }

    /// Deletes superseded results under <work>/replaced set aside more than `keepSeconds` ago
    /// (a rename sets the folder's ctime, which `FileSystem.info` counts); returns their names.
    public func pruneReplaced(keepSeconds: Double, now: Double) throws -> [String] {
        let folder = "\(paths.work)/replaced"
        var removed: [String] = []
        for name in FileSystem.entries(folder) {
            guard let info = FileSystem.info("\(folder)/\(name)"), now - info.modified >= keepSeconds else { continue }
            try FileSystem.removeTree("\(folder)/\(name)")
            removed.append(name)
        }
        return removed
    }

    /// Keeps, archives or deletes the inputs of a committed job, then marks it done.
    func retain(_ job: JobRecord, retention: DaemonConfiguration.Retention, now: Double) throws -> JobRecord {
        let folder = jobFolder(job.id)
        switch retention {
        case .keep:
            try FileSystem.removeTree(stagingFolder(job.id))
            for name in FileSystem.entries(folder) where name.hasPrefix("attempt-") {
                try FileSystem.removeTree("\(folder)/\(name)")
            }
        case .archive:
            let input = inputFolder(job.id)
            if FileSystem.exists(input) {
                try FileSystem.rename(input, "\(paths.archive)/\(job.id)")
                try FileSystem.sync(paths.archive)
            }
            try FileSystem.removeTree(folder)
        case .delete:
            try FileSystem.removeTree(folder)
        }
        var job = job
        job.state = .done
        job.step = .finished
        job.finishedAt = now
        try ledger.update(job, owing: owed(by: job, now: now))
        return job
    }

    /// A series re-sent after its result was committed: done without processing it again.
    public func completeDuplicate(
        _ job: JobRecord, of earlier: JobRecord, retention: DaemonConfiguration.Retention, now: Double
    ) throws -> JobRecord {
        var job = job
        job.reasonCode = DaemonCode.alreadyProcessed.rawValue
        job.reason = DaemonCode.alreadyProcessed.sentence + " Result of job \(earlier.id)."
        job.resultDir = earlier.resultDir
        job.step = .retaining
        try ledger.update(job)
        return try retain(job, retention: retention, now: now)
    }

    // MARK: Quarantine

    /// Moves the inputs to `<quarantine>/<job>/files/` with reason.json beside them.
    public func quarantine(_ job: JobRecord, reason: QuarantineReason, now: Double) throws -> JobRecord {
        var job = job
        job.step = .quarantining
        job.reasonCode = reason.code
        job.reason = reason.detail.map { "\(reason.sentence) \($0)" } ?? reason.sentence
        job.resultDir = "\(paths.quarantine)/\(job.id)"
        try ledger.update(job)
        return try finishQuarantine(job, reason: reason, now: now)
    }

    func finishQuarantine(_ job: JobRecord, reason: QuarantineReason, now: Double) throws -> JobRecord {
        let target = job.resultDir!
        let partial = "\(paths.quarantine)/.\(job.id).partial"
        if !FileSystem.exists(target) {
            try FileSystem.makeDirectory(partial)
            let record = QuarantineRecord(
                jobID: job.id, seriesUID: job.seriesUID, code: reason.code, sentence: reason.sentence,
                detail: reason.detail, fileCount: job.fileCount,
                time: ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: now)))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try FileSystem.writeAtomically(Array(try encoder.encode(record)), to: "\(partial)/reason.json")
            let input = inputFolder(job.id)
            if FileSystem.exists(input) && !FileSystem.exists("\(partial)/files") {
                try FileSystem.rename(input, "\(partial)/files")
            }
            try FileSystem.sync(partial)
            try FileSystem.rename(partial, target)
            try FileSystem.sync(paths.quarantine)
        }
        try FileSystem.removeTree(jobFolder(job.id))
        var job = job
        job.state = .quarantined
        job.step = .finished
        job.finishedAt = now
        try ledger.update(job)
        return job
    }

    // MARK: Recovery

    /// Takes this worker's unfinished jobs back (its own from before a restart, and any no live
    /// worker holds), finishes every step a crash interrupted and returns the jobs to queue,
    /// oldest first. A job that was running is queued again (its interrupted attempt counted).
    public func recover(retention: DaemonConfiguration.Retention, maxAttempts: Int, now: Double, logger: Logger) throws
        -> [JobRecord]
    {
        let jobs = try ledger.acquire(
            states: JobState.unfinished, for: worker, leaseSeconds: leaseSeconds, includingOwn: true, limit: 1 << 30)
        let queue = try resumeAll(jobs, retention: retention, maxAttempts: maxAttempts, now: now, logger: logger)
        removeOrphans(now: now, logger: logger)
        return queue
    }

    /// Takes the unfinished jobs of workers silent for longer than the lease, as `recover` does.
    public func takeOver(retention: DaemonConfiguration.Retention, maxAttempts: Int, now: Double, logger: Logger)
        throws -> [JobRecord]
    {
        let jobs = try ledger.acquire(
            states: JobState.unfinished, for: worker, leaseSeconds: leaseSeconds, includingOwn: false, limit: 64)
        return try resumeAll(jobs, retention: retention, maxAttempts: maxAttempts, now: now, logger: logger)
    }

    private func resumeAll(
        _ jobs: [JobRecord], retention: DaemonConfiguration.Retention, maxAttempts: Int, now: Double, logger: Logger
    ) throws -> [JobRecord] {
        var queue: [JobRecord] = []
        for job in jobs {
            logger.info(
                "resuming job",
                metadata: [
                    "job.id": "\(job.id)", "step": "\(job.step.rawValue)", "state": "\(job.state.rawValue)",
                    "lease_generation": .stringConvertible(job.leaseGeneration)
                ])
            if let queued = try resume(job, retention: retention, maxAttempts: maxAttempts, now: now) {
                queue.append(queued)
            }
        }
        return queue
    }

    /// Finishes the interrupted step of one job; returns it when it must be queued.
    public func resume(_ job: JobRecord, retention: DaemonConfiguration.Retention, maxAttempts: Int, now: Double) throws
        -> JobRecord?
    {
        var job = job
        switch job.step {
        case .claiming:
            job = try finishClaim(job, now: now)
            if let rejection = try ClaimManifest.read("\(jobFolder(job.id))/claim.json").rejection {
                _ = try quarantine(job, reason: rejection, now: now)
                return nil
            }
            return job
        case .claimed:
            return job
        case .gathering:
            return try finishGather(job)
        case .processing:
            if job.attempts >= maxAttempts {
                _ = try fail(
                    job, code: DaemonCode.attemptsExhausted.rawValue, reason: DaemonCode.attemptsExhausted.sentence,
                    now: now)
                return nil
            }
            job.state = .queued
            job.step = .claimed
            try ledger.update(job)
            return job
        case .committing:
            _ = try finishCommit(job, retention: retention, now: now)
        case .retaining:
            _ = try retain(job, retention: retention, now: now)
        case .quarantining:
            let reason = QuarantineReason(
                code: job.reasonCode ?? DaemonCode.processingError.rawValue,
                sentence: job.reason ?? DaemonCode.processingError.sentence)
            _ = try finishQuarantine(job, reason: reason, now: now)
        case .finished:
            break
        }
        return nil
    }

    /// Spool folders without a ledger row come from a crash before the row was written, when
    /// no file had moved yet: they are removed if their input folder is empty, kept otherwise.
    /// In a shared spool a young one may be another worker's claim in progress: left alone.
    func removeOrphans(now: Double, logger: Logger) {
        for id in FileSystem.entries(spoolPath) {
            if isShared, now - (FileSystem.info(jobFolder(id))?.modified ?? now) < 3600 { continue }
            guard (try? ledger.job(id: id)) ?? nil == nil else { continue }
            if FileSystem.entries(inputFolder(id)).isEmpty {
                try? FileSystem.removeTree(jobFolder(id))
            } else {
                logger.error("spool folder without a ledger row keeps its files", metadata: ["job.id": "\(id)"])
            }
        }
        for name in FileSystem.entries(paths.quarantine) where name.hasSuffix(".partial") {
            // A partial quarantine whose job finished elsewhere cannot exist; one whose job is
            // still quarantining was completed above. Anything left is reported, not deleted.
            logger.warning("partial quarantine folder left", metadata: ["folder": "\(name)"])
        }
    }
}
