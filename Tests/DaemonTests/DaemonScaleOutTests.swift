import Daemon
import Foundation
import Glibc
import TestSupport
import Testing

/// Several `lcovnet serve` workers on one PostgreSQL ledger (issue 22), each with its own watch
/// and work folder, sharing spool and results: a worker stalled past its lease (SIGSTOP) or
/// killed loses its jobs to another, which finishes each once; the stalled one, woken, commits
/// nothing; a worker stopped by SIGTERM hands its queued jobs over at once.
@Suite(
    .serialized,
    .enabled(
        if: DaemonHarness.binaryExists && PostgresServer.binaries != nil,
        "needs the lcovnet binary and PostgreSQL (scripts/install-deps.sh)"))
struct DaemonScaleOutTests {
    static func worker(
        _ name: String, server: PostgresServer, shared: TemporaryDirectory, lease: Double, sharedWatch: Bool = false
    ) throws -> DaemonHarness {
        try DaemonHarness(
            quietSeconds: 0.5, maxAttempts: 50, limits: "concurrency = 1", ledgerURL: server.url,
            ledger: "worker = \"\(name)\"\nlease_seconds = \(lease)", sharedRoot: shared.path,
            sharedWatch: sharedWatch)
    }

    /// Drops each series into its own study folder of `h`'s watch folder.
    static func send(_ series: [DaemonFixtures.Series], to h: DaemonHarness, first: Int) throws {
        for (offset, s) in series.enumerated() {
            for file in s.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study-\(first + offset)") }
        }
    }

    /// Each series has one job, done, and one complete result; nothing was replaced.
    static func expectDoneOnce(_ sent: [DaemonFixtures.Series], _ workers: [DaemonHarness]) {
        let jobs = workers[0].jobs()
        #expect(jobs.count == sent.count && jobs.allSatisfy { $0.state == .done }, "\(jobs.map(\.state))")
        #expect(Set(jobs.compactMap(\.seriesUID)) == Set(sent.map(\.uid)))
        #expect(Set(FileSystem.entries(workers[0].output)) == Set(sent.map(\.uid)))
        for s in sent {
            #expect(workers[0].files("\(workers[0].output)/\(s.uid)") == ["image.nii.gz", "series.json"])
        }
        #expect(workers[0].files(workers[0].archive).count == sent.reduce(0) { $0 + $1.files.count })
        for w in workers { #expect(FileSystem.entries("\(w.work)/replaced").isEmpty) }
    }

    @Test func aStalledOrKilledWorkerLosesItsJobsToAnotherAndNothingIsDoneTwice() throws {
        let server = try PostgresServer()
        let shared = try TemporaryDirectory("shared")
        let a = try Self.worker("a", server: server, shared: shared, lease: 3)
        let b = try Self.worker("b", server: server, shared: shared, lease: 3)
        let sent = try (0..<9).map { try DaemonFixtures.series(in: a.dir.file("s\($0)"), seed: 300 + $0, number: $0) }
        try a.start()
        try b.start()

        // a claims six series and stalls (SIGSTOP) with most of them queued behind its one slot.
        try Self.send(Array(sent[0..<6]), to: a, first: 0)
        #expect(a.wait(seconds: 60) { a.jobs().count == 6 })
        a.signal(SIGSTOP)
        let unfinished = a.jobs().filter { $0.state != .done }.count
        #expect(unfinished >= 1, "a had work left when it stalled")
        #expect(b.wait(seconds: 120) { b.finished(6) }, "b finished a's jobs: \(b.jobs().map(\.state))")
        // Its running job by the lease's expiry; its queued ones by that or as backlog (2 s).
        #expect(b.logged("jobs no live worker holds taken over") || b.logged("queued jobs of another worker taken"))
        #expect(b.jobs().filter { $0.leaseHolder == "b" }.count >= unfinished)
        // a wakes: whatever it was doing is no longer its own; it records and commits nothing.
        a.signal(SIGCONT)
        #expect(a.wait(seconds: 10) { a.logged("job taken by another worker; this worker leaves it") })
        Self.expectDoneOnce(Array(sent[0..<6]), [a, b])

        // a claims three more and is killed: b takes them once a's lease runs out.
        try Self.send(Array(sent[6..<9]), to: a, first: 6)
        #expect(a.wait(seconds: 60) { a.jobs().count == 9 })
        a.stop(SIGKILL)
        #expect(b.wait(seconds: 120) { b.finished(9) }, "\(b.jobs().map(\.state))")
        Self.expectDoneOnce(sent, [a, b])
        // `lcovnet status` shows the cluster: a silent past its lease, b alive.
        let status = try ReferenceTools.run(DaemonHarness.binary, ["status", "--config", b.configPath, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let shown = (report?["workers"] as? [[String: Any]] ?? []).map {
            "\($0["id"] ?? "")=\($0["alive"] as? Bool ?? false)"
        }
        #expect(shown == ["a=false", "b=true"], "\(status.stdout)")
        #expect(b.stop() == 0)
        #expect(a.files(a.watch).isEmpty && FileSystem.entries(b.spool).isEmpty)
        // Both workers are in the worker table; b stopped cleanly, a did not.
        let workers = try PostgresJobLedger(url: server.url).workers()
        #expect(workers.map(\.worker.id) == ["a", "b"])
        #expect(workers.map(\.worker.state) == [.active, .stopped] && workers.allSatisfy { $0.heldJobs == 0 })
    }

    /// The same series sent whole to both workers at once: each series has one result, made
    /// once; the other copy is found already processed (or merged into the job that ran).
    @Test func aSeriesSentToTwoWorkersIsProcessedOnce() throws {
        let server = try PostgresServer()
        let shared = try TemporaryDirectory("shared")
        let a = try Self.worker("a", server: server, shared: shared, lease: 30)
        let b = try Self.worker("b", server: server, shared: shared, lease: 30)
        let sent = try (0..<4).map { try DaemonFixtures.series(in: a.dir.file("s\($0)"), seed: 500 + $0, number: $0) }
        for (index, series) in sent.enumerated() {
            for file in series.files {
                let copy = a.dir.file("copy-\(index)-\(FileSystem.name(file))")
                try FileManager.default.copyItem(atPath: file, toPath: copy)
                try DaemonFixtures.drop(file, into: "\(a.watch)/study-\(index)")
                try DaemonFixtures.drop(copy, into: "\(b.watch)/study-\(index)")
            }
        }
        try a.start()
        try b.start()
        #expect(a.wait(seconds: 120) { a.finished(8) }, "\(a.jobs().map(\.state))")
        let jobs = a.jobs()
        #expect(jobs.count == 8 && jobs.allSatisfy { $0.state == .done })
        for series in sent {
            let copies = jobs.filter { $0.seriesUID == series.uid }
            #expect(copies.filter { $0.reasonCode == nil }.count == 1, "\(copies.map { $0.reasonCode ?? "processed" })")
            #expect(a.files("\(a.output)/\(series.uid)") == ["image.nii.gz", "series.json"])
        }
        #expect(Set(FileSystem.entries(a.output)) == Set(sent.map(\.uid)))
        for w in [a, b] { #expect(FileSystem.entries("\(w.work)/replaced").isEmpty) }
        #expect(a.stop() == 0 && b.stop() == 0)
    }

    /// Work sharing: twenty series arrive at one worker only; the other, idle, takes the queued jobs
    /// the first has left waiting, and both process them (each series once).
    @Test func anIdleWorkerTakesAnothersBacklog() throws {
        let server = try PostgresServer()
        let shared = try TemporaryDirectory("shared")
        let a = try Self.worker("a", server: server, shared: shared, lease: 30)
        let b = try Self.worker("b", server: server, shared: shared, lease: 30)
        // Enough that a's queue outlasts the 2 s a claimed job waits before another may take it.
        let sent = try (0..<20).map { try DaemonFixtures.series(in: a.dir.file("s\($0)"), seed: 600 + $0, number: $0) }
        try a.start()
        try b.start()
        try Self.send(sent, to: a, first: 0)
        #expect(a.wait(seconds: 180) { a.finished(20) }, "\(a.jobs().map(\.state))")
        Self.expectDoneOnce(sent, [a, b])
        let byWorker = Dictionary(grouping: a.jobs(), by: { $0.leaseHolder ?? "-" }).mapValues(\.count)
        #expect(byWorker["b", default: 0] >= 1 && byWorker["a", default: 0] >= 1, "\(byWorker)")
        #expect(b.logged("queued jobs of another worker taken"))
        #expect(a.stop() == 0 && b.stop() == 0)
    }

    /// Three workers, thirty series spread over their watch folders while one worker after
    /// another is killed (-9) and restarted, another stalled past its lease and woken, and then
    /// the PostgreSQL server restarted: every series done exactly once, nothing lost, no partial
    /// result, nothing replaced.
    @Test func threeWorkersThroughKillsStallsAndADatabaseRestart() throws {
        let server = try PostgresServer()
        let shared = try TemporaryDirectory("shared")
        let workers = try ["w1", "w2", "w3"].map { try Self.worker($0, server: server, shared: shared, lease: 3) }
        let sent = try (0..<30).map {
            try DaemonFixtures.series(in: workers[0].dir.file("s\($0)"), seed: 700 + $0, number: $0)
        }
        for w in workers { try w.start() }
        var generator = SystemRandomNumberGenerator()
        var chaos: [String] = []
        for round in 0..<6 {
            // The last series arrives while the database is away (below).
            for index in stride(from: round * 5, to: min(29, round * 5 + 5), by: 1) {
                try Self.send([sent[index]], to: workers[index % 3], first: index)
            }
            usleep(UInt32.random(in: 300_000...1_500_000, using: &generator))
            let killed = Int.random(in: 0..<3, using: &generator)
            workers[killed].stop(SIGKILL)
            try workers[killed].start()
            let stalled = (killed + 1) % 3
            workers[stalled].signal(SIGSTOP)
            chaos.append("round \(round): kill -9 w\(killed + 1), SIGSTOP w\(stalled + 1)")
            usleep(UInt32.random(in: 3_500_000...5_000_000, using: &generator))
            workers[stalled].signal(SIGCONT)
        }
        // The database goes away mid-stream and comes back: intake waits, nothing is lost.
        let remaining = workers[0].jobs().filter { $0.state != .done }.count
        try server.stop()
        try Self.send([sent[29]], to: workers[2], first: 29)
        Thread.sleep(forTimeInterval: 4)
        try server.start()
        chaos.append("database restarted with \(remaining) jobs unfinished")
        #expect(workers[0].wait(seconds: 240) { workers[0].finished(30) }, "\(chaos)")
        Self.expectDoneOnce(sent, workers)
        #expect(workers[2].logged("intake paused: the job ledger cannot be reached"))
        #expect(workers[2].logged("intake resumed: the job ledger is back"))
        #expect(
            // One job per series, processed: none merged into another or found already processed.
            workers[0].jobs().allSatisfy { !["merged", "already_processed"].contains($0.reasonCode ?? "") },
            "\(chaos) \(workers[0].jobs().compactMap { job in job.reasonCode.map { "\($0): \(job.reason ?? "")" } })")
        for w in workers {
            #expect(w.stop() == 0)
            #expect(w.files(w.watch).isEmpty)
        }
        #expect(FileSystem.entries(workers[0].spool).isEmpty, "\(chaos) \(workers[0].tree(workers[0].spool))")
    }

    /// Three workers watching one shared watch folder: each study folder is claimed by one of
    /// them (one at a time per folder), so each series is one job, processed once.
    @Test func workersSharingAWatchFolderClaimEachSeriesOnce() throws {
        let server = try PostgresServer()
        let shared = try TemporaryDirectory("shared")
        let workers = try ["w1", "w2", "w3"].map {
            try Self.worker($0, server: server, shared: shared, lease: 30, sharedWatch: true)
        }
        let sent = try (0..<12).map {
            try DaemonFixtures.series(in: workers[0].dir.file("s\($0)"), seed: 800 + $0, number: $0)
        }
        for w in workers { try w.start() }
        try Self.send(sent, to: workers[0], first: 0)
        #expect(workers[0].wait(seconds: 120) { workers[0].finished(12) }, "\(workers[0].jobs().map(\.state))")
        Self.expectDoneOnce(sent, workers)
        let jobs = workers[0].jobs()
        #expect(jobs.allSatisfy { $0.reasonCode == nil }, "\(jobs.compactMap(\.reasonCode))")
        #expect(Set(jobs.compactMap(\.leaseHolder)).count >= 2, "claims spread: \(jobs.map { $0.leaseHolder ?? "-" })")
        for w in workers { #expect(w.stop() == 0) }
        #expect(workers[0].files(workers[0].watch).isEmpty)
    }

    /// SIGTERM: the worker finishes or checkpoints its running job and hands back every job it
    /// holds; another worker takes them at once, long before the lease (60 s) would let it.
    @Test func aDrainedWorkerHandsItsJobsOverAtOnce() throws {
        let server = try PostgresServer()
        let shared = try TemporaryDirectory("shared")
        let a = try Self.worker("a", server: server, shared: shared, lease: 60)
        let b = try Self.worker("b", server: server, shared: shared, lease: 60)
        let sent = try (0..<5).map { try DaemonFixtures.series(in: a.dir.file("s\($0)"), seed: 400 + $0, number: $0) }
        try a.start()
        try b.start()
        try Self.send(sent, to: a, first: 0)
        #expect(a.wait(seconds: 60) { a.jobs().count == 5 })
        let stopped = Date()
        #expect(a.stop() == 0)
        #expect(a.logged("unfinished jobs handed back") || a.finished(5))
        #expect(b.wait(seconds: 30) { b.finished(5) }, "\(b.jobs().map(\.state))")
        #expect(Date().timeIntervalSince(stopped) < 30, "taken at once, not after the 60 s lease")
        Self.expectDoneOnce(sent, [a, b])
        #expect(b.stop() == 0)
    }
}
