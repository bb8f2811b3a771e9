import Daemon
import Foundation
import TestSupport
import Testing

/// The outbox's rows in the ledger: owed once per job, destination and file, whatever repeats.
@Suite struct OutboxLedgerTests {
    static func job(_ id: String, state: JobState = .done) -> JobRecord {
        var job = JobRecord(
            id: id, seriesUID: "1.2.3", source: "s", state: state, step: .finished, fileCount: 1, inputBytes: 1,
            createdAt: 0)
        job.resultDir = "/out/1.2.3"
        return job
    }

    /// A commit replayed after a kill adds nothing; a later job of the series (late files, same
    /// result folder) takes over what the earlier one had not sent yet, and what was sent stays sent.
    @Test func entriesAreOwedOnceAndALaterResultTakesThemOver() throws {
        let dir = try TemporaryDirectory("outbox")
        let ledger = try SQLiteJobLedger(path: dir.file("ledger.sqlite"))
        for id in ["j1", "j2"] { try ledger.insert(Self.job(id, state: .running)) }
        func owed(_ id: String, _ file: String) -> OutboxEntry {
            OutboxEntry(jobID: id, seriesUID: "1.2.3", destination: "PACS@h:104", file: "/out/1.2.3/\(file)", now: 1)
        }
        try ledger.update(Self.job("j1"), owing: [owed("j1", "segmentation.dcm"), owed("j1", "rtstruct.dcm")])
        try ledger.update(Self.job("j1"), owing: [owed("j1", "segmentation.dcm"), owed("j1", "rtstruct.dcm")])
        #expect(try ledger.outbox().count == 2)
        var sent = try #require(try ledger.outbox().first { $0.file.hasSuffix("rtstruct.dcm") })
        sent.state = .sent
        try ledger.update([sent])
        try ledger.update(Self.job("j2"), owing: [owed("j2", "segmentation.dcm"), owed("j2", "rtstruct.dcm")])
        let rows = try ledger.outbox().map {
            "\($0.jobID) \(($0.file as NSString).lastPathComponent) \($0.state.rawValue)"
        }
        #expect(
            rows == [
                "j1 segmentation.dcm abandoned", "j1 rtstruct.dcm sent", "j2 segmentation.dcm pending",
                "j2 rtstruct.dcm pending"
            ])
        #expect(try ledger.dueOutbox(now: 1).map(\.jobID) == ["j2", "j2"])
        #expect(try ledger.dueOutbox(now: 0.5).isEmpty)
    }
}
