import Foundation
import Synchronization
import TestSupport
import Testing

@testable import Daemon

/// Leases on the ledger (issue 22): a job is taken only from a worker that is gone or silent
/// past its lease, each taking raises the fencing token, and an update carrying an older token
/// writes nothing. The same script on both backends; PostgreSQL's workers taking jobs at once
/// never take the same one; a worker's update racing a takeover loses cleanly.
@Suite(.enabled(if: PostgresServer.binaries != nil, "needs PostgreSQL (scripts/install-deps.sh)"))
struct LedgerLeaseTests {
    static func job(_ id: String, holder: String?, state: JobState = .queued) -> JobRecord {
        JobRecord(
            id: id, seriesUID: "1.2.\(id)", source: "s", state: state, step: state == .done ? .finished : .claimed,
            fileCount: 1, inputBytes: 1, createdAt: 1, leaseHolder: holder)
    }

    /// What the script saw, a line per step; heartbeat ages left out (clocks differ).
    static func script(_ ledger: any JobLedger) throws -> [String] {
        var seen: [String] = []
        func note(_ label: String, _ jobs: [JobRecord]) {
            seen.append(
                "\(label): "
                    + jobs.map { "\($0.id)@\($0.leaseHolder ?? "-")#\($0.leaseGeneration)" }.joined(separator: " "))
        }
        func noteLost(_ label: String, _ body: () throws -> Void) {
            do {
                try body()
                seen.append("\(label): written")
            } catch let error as LedgerError {
                seen.append("\(label): \(error)")
            } catch {
                seen.append("\(label): \(error)")
            }
        }
        try ledger.heartbeat(WorkerRecord(id: "a", host: "host-a", pid: 11))
        try ledger.heartbeat(WorkerRecord(id: "b", host: "host-b", pid: 22))
        var a1 = Self.job("j1", holder: "a")
        try ledger.insert(a1)
        try ledger.insert(Self.job("j2", holder: nil))
        try ledger.insert(Self.job("j3", holder: "a", state: .done))
        try ledger.insert(Self.job("j4", holder: "gone"))  // a worker that never beat: no live lease

        // b takes what no live worker holds; a's live job and finished jobs stay.
        var bTaken = try ledger.acquire(
            states: [.queued, .running], for: "b", leaseSeconds: 60, includingOwn: false, limit: 10)
        note("b takes", bTaken)
        // a, starting again under its name, takes back its own job: its old record is fenced out.
        let aTaken = try ledger.acquire(
            states: [.queued, .running], for: "a", leaseSeconds: 60, includingOwn: true, limit: 10)
        note("a takes back", aTaken)
        a1.state = .running
        noteLost("a's record from before", { try ledger.update(a1) })
        a1 = aTaken[0]
        a1.state = .running
        a1.attempts = 1
        noteLost("a's current record", { try ledger.update(a1) })

        // a falls silent: past the lease, b takes its running job.
        Thread.sleep(forTimeInterval: 0.3)
        try ledger.heartbeat(WorkerRecord(id: "b", host: "host-b", pid: 22))
        note(
            "b, a silent",
            try ledger.acquire(states: [.running], for: "b", leaseSeconds: 0.2, includingOwn: false, limit: 10))
        a1.state = .done
        a1.step = .finished
        noteLost("a wakes and commits", { try ledger.update(a1) })
        noteLost(
            "a wakes and commits with results owed",
            {
                try ledger.update(
                    a1, owing: [OutboxEntry(jobID: "j1", seriesUID: nil, destination: "P", file: "f", now: 1)])
            })
        noteLost("a wakes and gathers", { try ledger.update([a1]) })
        noteLost("a hands back what it no longer holds", { try ledger.release([a1]) })

        // b drains: its queued jobs go back at once, for anyone.
        let queued = bTaken.filter { $0.state == .queued }
        try ledger.release(queued)
        note("after release", try ledger.allJobs())
        noteLost("b's released record", { try ledger.update(bTaken[0]) })
        bTaken = try ledger.acquire(states: [.queued], for: "a", leaseSeconds: 60, includingOwn: false, limit: 1)
        note("a takes one", bTaken)
        try ledger.heartbeat(WorkerRecord(id: "b", host: "host-b", pid: 22, state: .draining))
        seen.append(
            "workers: "
                + (try ledger.workers()).map {
                    "\($0.worker.id)/\($0.worker.host)/\($0.worker.state.rawValue)/\($0.heldJobs)"
                }
                .joined(separator: " "))
        #expect(try ledger.workers().allSatisfy { $0.heartbeatAge >= 0 && $0.heartbeatAge < 30 })
        #expect(try ledger.outbox().isEmpty)  // the fenced commit wrote none of its entries
        return seen
    }

    @Test func leasesAreTheSameOnBothBackends() throws {
        let dir = try TemporaryDirectory("ledger-leases")
        let server = try PostgresServer()
        let sqlite = try Self.script(SQLiteJobLedger(path: dir.file("ledger.sqlite")))
        let postgres = try Self.script(PostgresJobLedger(url: server.url))
        #expect(
            sqlite == [
                "b takes: j2@b#1 j4@b#1",
                "a takes back: j1@a#1",
                "a's record from before: job ledger: job j1 was taken by worker a (lease lost)",
                "a's current record: written",
                "b, a silent: j1@b#2",
                "a wakes and commits: job ledger: job j1 was taken by worker b (lease lost)",
                "a wakes and commits with results owed: job ledger: job j1 was taken by worker b (lease lost)",
                "a wakes and gathers: job ledger: job j1 was taken by worker b (lease lost)",
                "a hands back what it no longer holds: job ledger: job j1 was taken by worker b (lease lost)",
                "after release: j1@b#2 j2@-#2 j3@a#0 j4@-#2",
                "b's released record: job ledger: job j2 was taken by no worker (lease lost)",
                "a takes one: j2@a#3",
                "workers: a/host-a/active/1 b/host-b/draining/1"
            ], "\(sqlite)")
        #expect(postgres == sqlite)
    }

    /// One series, two jobs on two workers: only one runs at a time; a later job gathering the
    /// earlier one takes it, and the earlier one's holder can no longer start it.
    static func seriesScript(_ ledger: any JobLedger) throws -> [String] {
        var seen: [String] = []
        var first = Self.job("s1", holder: "a")
        var second = Self.job("s2", holder: "b")
        second.seriesUID = first.seriesUID
        try ledger.insert(first)
        try ledger.insert(second)
        first.state = .running
        second.state = .running
        seen.append("a starts s1: \(try ledger.startAttempt(first))")
        seen.append("b starts s2: \(try ledger.startAttempt(second))")
        seen.append("b's s2 still: \(try ledger.job(id: "s2")?.state.rawValue ?? "-")")
        first.state = .done
        try ledger.update(first)
        seen.append("b starts s2 after s1: \(try ledger.startAttempt(second))")
        second.state = .done
        try ledger.update(second)
        // A third job of the series, queued on a; b gathers it.
        var third = Self.job("s3", holder: "a")
        third.seriesUID = first.seriesUID
        try ledger.insert(third)
        let taken = try ledger.take([third], for: "b")
        seen.append("b takes s3: \(taken.map { "\($0.id)@\($0.leaseHolder ?? "-")#\($0.leaseGeneration)" })")
        third.state = .running
        do {
            _ = try ledger.startAttempt(third)
            seen.append("a starts s3: started")
        } catch {
            seen.append("a starts s3: \(error)")
        }
        return seen
    }

    @Test func aSeriesRunsOnOneWorkerAtATime() throws {
        let dir = try TemporaryDirectory("ledger-series")
        let server = try PostgresServer()
        let sqlite = try Self.seriesScript(SQLiteJobLedger(path: dir.file("ledger.sqlite")))
        #expect(
            sqlite == [
                "a starts s1: true", "b starts s2: false", "b's s2 still: queued", "b starts s2 after s1: true",
                "b takes s3: [\"s3@b#1\"]", "a starts s3: job ledger: job s3 was taken by worker b (lease lost)"
            ], "\(sqlite)")
        #expect(try Self.seriesScript(PostgresJobLedger(url: server.url)) == sqlite)
    }

    /// Three workers, each its own connection, take 150 jobs three at a time and finish each:
    /// every job is taken once, and every fenced update lands.
    @Test func workersTakingTogetherNeverTakeTheSameJob() throws {
        let server = try PostgresServer()
        let seed = try PostgresJobLedger(url: server.url)
        for i in 0..<150 { try seed.insert(Self.job(String(format: "j%03d", i), holder: nil)) }
        let ledgers = try (0..<3).map { w in
            let ledger = try PostgresJobLedger(url: server.url)
            try ledger.heartbeat(WorkerRecord(id: "w\(w)", host: "h", pid: w))
            return ledger
        }
        let results = Mutex<[Int: Result<[String], any Error>]>([:])
        let started = DispatchGroup()
        let finished = DispatchGroup()
        for _ in 0..<3 {
            started.enter()
            finished.enter()
        }
        @Sendable func work(_ w: Int) {
            let outcome = Result { () throws -> [String] in
                var mine: [String] = []
                // All three are taking jobs before any may run out: the race is real.
                defer { if mine.isEmpty { started.leave() } }
                while true {
                    let jobs = try ledgers[w].acquire(
                        states: [.queued], for: "w\(w)", leaseSeconds: 60, includingOwn: false, limit: 3)
                    if jobs.isEmpty { return mine }
                    for var job in jobs {
                        job.state = .done
                        job.step = .finished
                        try ledgers[w].update(job)
                        mine.append(job.id)
                        if mine.count == 1 {
                            started.leave()
                            started.wait()
                        }
                        Thread.sleep(forTimeInterval: 0.002)  // the job's work: lets the others in
                    }
                }
            }
            results.withLock { $0[w] = outcome }
            finished.leave()
        }
        // Threads of their own (GCD's pool may run fewer than three at once on two cores).
        for w in 0..<3 { Thread.detachNewThread { work(w) } }
        finished.wait()
        let taken = try (0..<3).map { w in try results.withLock { $0[w]! }.get() }
        let all = taken.flatMap { $0 }
        #expect(all.count == 150 && Set(all).count == 150)
        #expect(try seed.counts() == [.done: 150])
    }

    /// A stalled worker's update that arrives while another worker is taking the job waits for
    /// the takeover's row lock, then finds the raised generation and writes nothing.
    @Test func anUpdateRacingATakeoverLoses() throws {
        let server = try PostgresServer()
        let ledger = try PostgresJobLedger(url: server.url)
        var job = Self.job("j1", holder: "a")
        job.state = .running
        try ledger.insert(job)
        let takeover = "UPDATE job SET lease_holder = 'b', lease_generation = lease_generation + 1 WHERE id = 'j1'"
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? server.psql("BEGIN; \(takeover); SELECT pg_sleep(3); COMMIT;")
            finished.signal()
        }
        // Wait until the takeover holds the row (its session is in pg_sleep, after its UPDATE).
        let observer = try PostgresConnection(url: server.url)
        let deadline = Date().addingTimeInterval(20)
        while try observer.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(3)%'"
                + " AND pid <> pg_backend_pid()"
        ).first?.first != "1" {
            try #require(Date() < deadline, "the takeover never started")
            Thread.sleep(forTimeInterval: 0.05)
        }
        job.state = .done
        let started = Date()
        let error = #expect(throws: LedgerError.self) { try ledger.update(job) }
        #expect(Date().timeIntervalSince(started) > 0.5, "the update waited for the takeover's lock")
        #expect(error.map { "\($0)" } == "job ledger: job j1 was taken by worker b (lease lost)")
        finished.wait()
        #expect(try ledger.job(id: "j1")?.state == .running)
    }
}
