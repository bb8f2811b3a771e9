import Foundation
import Logging
import TestSupport
import Testing

@testable import Daemon

/// Late files: a later job of a series takes the inputs the earlier jobs still hold, the result
/// is replaced in one step, and a kill in the middle of either is finished on restart.
@Suite struct SpoolLateFilesTests {
    typealias Fixture = SpoolTests.Fixture
    let logger = Logger(label: "test")

    /// A job of series 1.2.3 claimed from `names` and committed with `result` as its only file.
    func committed(_ f: Fixture, _ names: [String], result: String, folder: String = "study") throws -> JobRecord {
        var job = try f.spool.claim(files: try f.drop(names, in: folder), seriesUID: "1.2.3", source: folder, now: 1)
        if case .ready(let gathered, _) = try f.spool.gather(job, now: 1) { job = gathered }
        job = try f.spool.startAttempt(job, now: 2)
        try FileSystem.writeAtomically(Array(result.utf8), to: "\(f.spool.stagingFolder(of: job))/image.nii.gz")
        return try f.spool.commit(job, seriesUID: nil, retention: f.config.retention, now: 3)
    }

    @Test(arguments: [DaemonConfiguration.Retention.keep, .archive])
    func aLateFileIsProcessedWithTheWholeSeriesAndReplacesTheResult(retention: DaemonConfiguration.Retention) throws {
        let f = try Fixture(retention: retention)
        let first = try committed(f, ["a.dcm", "b.dcm"], result: "two slices")
        let late = try f.spool.claim(
            files: try f.drop(["c.dcm"], in: "late"), seriesUID: "1.2.3", source: "late", now: 4)
        guard case .ready(let job, let merged) = try f.spool.gather(late, now: 5) else {
            Issue.record("not gathered")
            return
        }
        #expect(merged.isEmpty && job.step == .claimed && job.fileCount == 3)
        #expect(FileSystem.entries(f.spool.inputFolder(job.id)) == ["a.dcm", "b.dcm", "c.dcm"])
        #expect(
            !FileSystem.exists("\(f.config.spoolPath)/\(first.id)")
                && !FileSystem.exists("\(f.config.paths.archive)/\(first.id)"))

        var running = try f.spool.startAttempt(job, now: 6)
        try FileSystem.writeAtomically(
            Array("three slices".utf8), to: "\(f.spool.stagingFolder(of: running))/image.nii.gz")
        running = try f.spool.commit(running, seriesUID: nil, retention: retention, now: 7)
        #expect(running.state == .done && running.attempts == 1)
        #expect(FileSystem.entries(f.config.paths.output) == ["1.2.3"])
        #expect(f.contents("\(f.config.paths.output)/1.2.3/image.nii.gz") == "three slices")
        #expect(f.contents("\(f.config.paths.work)/replaced/1.2.3-\(job.id)/image.nii.gz") == "two slices")
        let kept = retention == .keep ? f.spool.inputFolder(job.id) : "\(f.config.paths.archive)/\(job.id)"
        #expect(FileSystem.entries(kept) == ["a.dcm", "b.dcm", "c.dcm"])
        #expect(try f.ledger.job(id: first.id)?.reason?.contains(job.id) == true)

        // The superseded result stays for the configured time, measured from when it was set
        // aside, then goes; the current result is untouched.
        let setAside = try #require(FileSystem.info("\(f.config.paths.work)/replaced/1.2.3-\(job.id)")).modified
        #expect(try f.spool.pruneReplaced(keepSeconds: 86_400, now: setAside + 3600).isEmpty)
        #expect(try f.spool.pruneReplaced(keepSeconds: 86_400, now: setAside + 86_401) == ["1.2.3-\(job.id)"])
        #expect(FileSystem.entries("\(f.config.paths.work)/replaced").isEmpty)
        #expect(f.contents("\(f.config.paths.output)/1.2.3/image.nii.gz") == "three slices")
    }

    @Test func aSeriesSentAgainByteForByteIsNotProcessedAgain() throws {
        let f = try Fixture()
        let first = try committed(f, ["a.dcm", "b.dcm"], result: "r")
        let again = try f.spool.claim(
            files: try f.drop(["a.dcm", "b.dcm"], in: "again"), seriesUID: "1.2.3", source: "again", now: 4)
        #expect(try f.spool.gather(again, now: 5) == .duplicate(of: try #require(try f.ledger.job(id: first.id))))
        #expect(FileSystem.entries("\(f.config.paths.archive)/\(first.id)") == ["a.dcm", "b.dcm"])  // untouched
    }

    /// Two workers claim copies of one series; the copy claimed first (the older job) reaches the
    /// ledger's queue only after the later copy was committed: it is found already processed too.
    @Test func anOlderCopyQueuedAfterTheCommitIsNotProcessedAgain() throws {
        let f = try Fixture()
        var older = try f.spool.claim(
            files: try f.drop(["a.dcm", "b.dcm"], in: "first"), seriesUID: "1.2.3", source: "first", now: 1)
        older.state = .receiving  // still being claimed on its worker: not gathered by the later job
        try f.ledger.update(older)
        let later = try committed(f, ["a.dcm", "b.dcm"], result: "r", folder: "second")
        #expect(later.id > older.id)
        older.state = .queued
        try f.ledger.update(older)
        #expect(try f.spool.gather(older, now: 5) == .duplicate(of: try #require(try f.ledger.job(id: later.id))))
    }

    /// The repeat check: equal bytes under any name and order repeat; the same size with one
    /// byte changed does not; a file with no counterpart makes the whole set new.
    @Test func filesRepeatOnlyByteForByte() throws {
        let dir = try TemporaryDirectory("repeat")
        func file(_ name: String, _ bytes: [UInt8]) throws -> String {
            try Data(bytes).write(to: URL(fileURLWithPath: dir.file(name)))
            return dir.file(name)
        }
        let held = try (0..<5).map { try file("held\($0)", Array(repeating: UInt8($0), count: 4096)) }
        let copies = try [3, 0, 4].map { try file("copy\($0)", Array(repeating: UInt8($0), count: 4096)) }
        var changed = Array(repeating: UInt8(2), count: 4096)
        changed[4000] = 9
        let other = try file("changed", changed)
        #expect(Spool.allRepeat(copies, in: held))
        #expect(!Spool.allRepeat(copies + [other], in: held))
        #expect(!Spool.allRepeat([other], in: held))
        #expect(!Spool.allRepeat(copies, in: []))
    }

    @Test func aJobNotStartedIsMergedIntoTheLaterOne() throws {
        let f = try Fixture()
        let early = try f.spool.claim(
            files: try f.drop(["a.dcm", "b.dcm"]), seriesUID: "1.2.3", source: "study", now: 1)
        let late = try f.spool.claim(
            files: try f.drop(["c.dcm"], in: "late"), seriesUID: "1.2.3", source: "late", now: 2)
        guard case .ready(let job, let merged) = try f.spool.gather(late, now: 3) else {
            Issue.record("not gathered")
            return
        }
        #expect(merged == [early.id] && job.fileCount == 3)
        let row = try #require(try f.ledger.job(id: early.id))
        #expect(row.state == .done && row.reasonCode == "merged" && row.resultDir == nil)
        #expect(!FileSystem.exists("\(f.config.spoolPath)/\(early.id)"))
        // A restart now resumes only the later job.
        #expect(try f.spool.recover(retention: .archive, maxAttempts: 3, now: 4, logger: logger).map(\.id) == [job.id])
    }

    @Test func aGatheringCutShortFinishesOnRecovery() throws {
        let f = try Fixture()
        let first = try committed(f, ["a.dcm", "b.dcm"], result: "r")
        var late = try f.spool.claim(
            files: try f.drop(["c.dcm"], in: "late"), seriesUID: "1.2.3", source: "late", now: 4)
        // The state a kill leaves after gather.json, the ledger step and one of two renames.
        let archived = "\(f.config.paths.archive)/\(first.id)"
        let manifest = Spool.GatherManifest(
            sources: [first.id],
            entries: [
                .init(from: "\(archived)/a.dcm", name: "a.dcm"),
                .init(from: "\(archived)/b.dcm", name: "b.dcm")
            ])
        try FileSystem.writeAtomically(
            Array(try JSONEncoder().encode(manifest)), to: "\(f.config.spoolPath)/\(late.id)/gather.json")
        late.step = .gathering
        try f.ledger.update(late)
        try FileSystem.rename("\(archived)/a.dcm", "\(f.spool.inputFolder(late.id))/a.dcm")

        let queue = try f.spool.recover(retention: .archive, maxAttempts: 3, now: 5, logger: logger)
        #expect(queue.map(\.id) == [late.id] && queue.first?.step == .claimed && queue.first?.fileCount == 3)
        #expect(FileSystem.entries(f.spool.inputFolder(late.id)) == ["a.dcm", "b.dcm", "c.dcm"])
        #expect(!FileSystem.exists(archived))
    }

    @Test func aReplacementCutAfterTheSwapIsNotSwappedBack() throws {
        let f = try Fixture()
        _ = try committed(f, ["a.dcm"], result: "old")
        var late = try f.spool.claim(
            files: try f.drop(["b.dcm"], in: "late"), seriesUID: "1.2.3", source: "late", now: 4)
        if case .ready(let gathered, _) = try f.spool.gather(late, now: 5) { late = gathered }
        late = try f.spool.startAttempt(late, now: 6)
        let attempt = f.spool.stagingFolder(of: late)
        try FileSystem.writeAtomically(Array("new".utf8), to: "\(attempt)/image.nii.gz")
        // Commit's first rename (the finished attempt becomes staging), then the kill came right after the swap: the ledger says committing, staging holds the old result.
        let staging = f.spool.stagingFolder(late.id)
        try FileSystem.rename(attempt, staging)
        late.step = .committing
        late.resultDir = "\(f.config.paths.output)/1.2.3"
        try f.ledger.update(late)
        let inode = try #require(FileSystem.info(staging)).inode
        try FileSystem.writeAtomically(
            Array(try JSONEncoder().encode(["inode": inode])), to: "\(f.config.spoolPath)/\(late.id)/commit.json")
        try FileSystem.exchange(staging, late.resultDir!)

        #expect(try f.spool.recover(retention: .archive, maxAttempts: 3, now: 7, logger: logger).isEmpty)
        #expect(f.contents("\(f.config.paths.output)/1.2.3/image.nii.gz") == "new")
        #expect(f.contents("\(f.config.paths.work)/replaced/1.2.3-\(late.id)/image.nii.gz") == "old")
        #expect(try f.ledger.job(id: late.id)?.state == .done)
    }
}
