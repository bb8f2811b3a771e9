import Foundation
import TestSupport
import Testing

@testable import Daemon

/// The job ledger on PostgreSQL (a private server per test) does what the SQLite ledger does,
/// call for call; migrates once when workers start together; and comes back after the server
/// restarts, with nothing lost.
@Suite(.enabled(if: PostgresServer.binaries != nil, "needs PostgreSQL (scripts/install-deps.sh)"))
struct LedgerBackendTests {
    /// One job's life with late files and two destinations, as the daemon drives it; every
    /// read's result, in order.
    static func script(_ ledger: any JobLedger) throws -> [String] {
        var seen: [String] = []
        func note(_ value: some Encodable) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            seen.append(String(decoding: try encoder.encode(value), as: UTF8.self))
        }
        var first = JobRecord(
            id: "20261207-0001", seriesUID: "1.2.3.4", source: "incoming/a", state: .queued, step: .claimed,
            fileCount: 120, inputBytes: 63_000_123, createdAt: 1_765_000_000.125)
        var second = JobRecord(
            id: "20261207-0002", seriesUID: "1.2.3.4", source: "incoming/a-late \"quoted\"", state: .receiving,
            step: .claiming, fileCount: 3, inputBytes: 1_500_000, createdAt: 1_765_000_100.5)
        let other = JobRecord(
            id: "20261207-0003", seriesUID: nil, source: "incoming/b", state: .queued, step: .claimed,
            fileCount: 1, inputBytes: 10, createdAt: 1_765_000_200)
        try ledger.insert(first)
        try ledger.insert(second)
        try ledger.insert(other)
        #expect(throws: (any Error).self) { try ledger.insert(other) }  // one row per id
        first.state = .running
        first.step = .processing
        first.attempts = 1
        first.startedAt = 1_765_000_001.000_001
        try ledger.update(first)
        try note(ledger.job(id: first.id))
        try note(ledger.jobs(in: [.running, .receiving]))
        first.state = .done
        first.step = .finished
        first.resultDir = "/results/1.2.3.4"
        first.finishedAt = 1_765_000_050.25
        first.durationMS = 49_000
        let owed = ["segmentation.dcm", "rtstruct.dcm"].map {
            OutboxEntry(
                jobID: first.id, seriesUID: "1.2.3.4", destination: "PACS@10.0.0.5:104", file: $0, now: 1_765_000_050.25
            )
        }
        try ledger.update(first, owing: owed)
        try ledger.update(first, owing: owed)  // a commit a kill interrupted, done again: kept as it is
        try note(ledger.outbox())
        // Late files: the second job takes over the series' result; the first job's pending entries are abandoned.
        second.state = .done
        second.step = .finished
        second.resultDir = "/results/1.2.3.4"
        second.reasonCode = "late-files"
        second.reason = "3 late files; ünïcode kept"
        try ledger.update([second, first])
        try ledger.update(
            second,
            owing: [
                OutboxEntry(
                    jobID: second.id, seriesUID: "1.2.3.4", destination: "PACS@10.0.0.5:104",
                    file: "segmentation.dcm", now: 1_765_000_300)
            ])
        try note(ledger.outbox())
        var due = try ledger.dueOutbox(now: 1_765_000_300, limit: 10)
        try note(due)
        due[0].state = .sent
        due[0].attempts = 1
        due[0].sentAt = 1_765_000_301.5
        try ledger.update(due)
        try note(ledger.dueOutbox(now: 1_765_001_000))
        try note(ledger.jobs(seriesUID: "1.2.3.4"))
        try note(ledger.doneJob(seriesUID: "1.2.3.4"))
        try note(ledger.allJobs())
        try note(ledger.counts().map { "\($0.key.rawValue)=\($0.value)" }.sorted())
        #expect(throws: (any Error).self) {
            try ledger.update(
                JobRecord(
                    id: "missing", seriesUID: nil, source: "x", state: .done, step: .finished,
                    fileCount: 0, inputBytes: 0, createdAt: 0))
        }
        return seen
    }

    @Test func postgresDoesWhatSQLiteDoesCallForCall() throws {
        let dir = try TemporaryDirectory("ledger-sqlite")
        let server = try PostgresServer()
        let sqlite = try Self.script(SQLiteJobLedger(path: dir.file("ledger.sqlite")))
        let postgres = try Self.script(PostgresJobLedger(url: server.url))
        #expect(sqlite.count == 10)
        for (a, b) in zip(sqlite, postgres) { #expect(a == b) }
        #expect(sqlite.contains { $0.contains("abandoned") } && sqlite.contains { $0.contains("ünïcode") })
    }

    @Test func workersStartingTogetherMigrateOnce() async throws {
        let server = try PostgresServer()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { _ = try PostgresJobLedger(url: server.url) } }
            try await group.waitForAll()
        }
        #expect(
            try server.psql("SELECT name FROM ledger_migration ORDER BY name") == "v1: jobs\nv2: outbox\nv3: leases\n")
    }

    /// While the server is down each call fails with `unavailable` (the daemon's intake waits);
    /// once it is back, the next call reconnects, and what was committed is there.
    @Test func aRestartedServerIsReconnectedWithNothingLost() throws {
        let server = try PostgresServer()
        let ledger = try PostgresJobLedger(url: server.url)
        try ledger.insert(
            JobRecord(
                id: "a", seriesUID: "1.2", source: "s", state: .queued, step: .claimed, fileCount: 1, inputBytes: 1,
                createdAt: 1))
        try server.stop()
        let error = #expect(throws: LedgerError.self) { try ledger.allJobs() }
        if case .unavailable = error {} else { Issue.record("expected unavailable, got \(String(describing: error))") }
        try server.start()
        #expect(try ledger.allJobs().map(\.id) == ["a"])
        try ledger.insert(
            JobRecord(
                id: "b", seriesUID: "1.3", source: "s", state: .queued, step: .claimed, fileCount: 1, inputBytes: 1,
                createdAt: 2))
        #expect(try ledger.counts() == [.queued: 2])
    }

    @Test func aServerThatIsNotThereIsOneClearError() throws {
        let port = try PostgresServer.freePort()
        let error = #expect(throws: LedgerError.self) {
            try PostgresJobLedger(url: "postgresql://lcovnet:secret@127.0.0.1:\(port)/x?connect_timeout=2")
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(
            text.hasPrefix("job ledger unavailable: PostgreSQL at postgresql://lcovnet:***@127.0.0.1:\(port)/x"),
            "\(text)")
        #expect(!text.contains("secret") && !text.contains("\n"))
    }
}
