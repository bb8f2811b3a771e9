import Foundation
import Logging
import TestSupport
import Testing

@testable import Daemon

/// The spool's steps, and recovery from a crash between any two of them.
@Suite struct SpoolTests {
    struct Fixture {
        let dir: TemporaryDirectory
        let config: DaemonConfiguration
        let ledger: any JobLedger
        let spool: Spool

        init(retention: DaemonConfiguration.Retention = .archive) throws {
            dir = try TemporaryDirectory("spool")
            var c = DaemonConfiguration.defaults
            c.paths = .init(
                watch: dir.file("in"), work: dir.file("work"), output: dir.file("out"),
                quarantine: dir.file("q"), archive: dir.file("archive"))
            c.retention = retention
            config = c
            try Spool.prepareFolders(c)
            ledger = try SQLiteJobLedger(path: c.ledgerPath)
            spool = Spool(configuration: c, ledger: ledger)
        }

        /// Files with distinct contents in watch/<folder>.
        func drop(_ names: [String], in folder: String = "study") throws -> [String] {
            try FileSystem.makeDirectories("\(config.paths.watch)/\(folder)")
            return try names.map { name in
                let path = "\(config.paths.watch)/\(folder)/\(name)"
                try FileSystem.writeAtomically(Array("content of \(name)".utf8), to: path)
                return path
            }
        }

        func contents(_ path: String) -> String? {
            FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    let logger = Logger(label: "test")

    /// Result folders are named by `segment`'s rule (DurableFiles.SafeFileName), else the job id.
    @Test func resultFoldersFollowTheOneNamingRule() {
        #expect(Spool.resultName(seriesUID: "Müller 7", jobID: "j1") == "M_ller_7")
        #expect(Spool.resultName(seriesUID: ".hidden", jobID: "j1") == "_.hidden")
        #expect(Spool.resultName(seriesUID: " ", jobID: "j1") == "j1")
    }

    @Test func claimMovesEveryFileAndRecordsTheJob() throws {
        let f = try Fixture()
        let files = try f.drop(["a.dcm", "b.dcm", "c.dcm"])
        let job = try f.spool.claim(files: files, seriesUID: "1.2.3", source: "study", now: 100)
        #expect(job.state == .queued && job.step == .claimed && job.fileCount == 3)
        #expect(FileSystem.entries(f.spool.inputFolder(job.id)) == ["a.dcm", "b.dcm", "c.dcm"])
        #expect(FileSystem.entries("\(f.config.paths.watch)/study").isEmpty)
        #expect(try f.ledger.job(id: job.id) == job)
    }

    @Test func aClaimCutShortFinishesOnRecovery() throws {
        let f = try Fixture()
        let files = try f.drop(["a.dcm", "b.dcm", "c.dcm", "d.dcm"])
        // The state a kill leaves after claim.json, the ledger row and two of four renames.
        let id = "j-cut"
        try FileSystem.makeDirectories(f.spool.inputFolder(id))
        let manifest = ClaimManifest(
            jobID: id, seriesUID: "1.2.3", source: "study",
            entries: files.map { .init(from: $0, name: FileSystem.name($0)) }, rejection: nil)
        try manifest.write("\(f.config.spoolPath)/\(id)/claim.json")
        try f.ledger.insert(
            JobRecord(
                id: id, seriesUID: "1.2.3", source: "study", state: .receiving, step: .claiming,
                fileCount: 4, inputBytes: 0, createdAt: 1))
        for file in files.prefix(2) {
            try FileSystem.rename(file, "\(f.spool.inputFolder(id))/\(FileSystem.name(file))")
        }

        let queue = try f.spool.recover(retention: .archive, maxAttempts: 3, now: 2, logger: logger)
        #expect(queue.map(\.id) == [id])
        #expect(FileSystem.entries(f.spool.inputFolder(id)) == ["a.dcm", "b.dcm", "c.dcm", "d.dcm"])
        #expect(try f.ledger.job(id: id)?.step == .claimed)
    }

    @Test func anInterruptedAttemptIsQueuedAgainAndCountsUntilTheLimit() throws {
        let f = try Fixture()
        var job = try f.spool.claim(files: try f.drop(["a.dcm"]), seriesUID: "1.2.3", source: "study", now: 1)
        job = try f.spool.startAttempt(job, now: 2)
        try FileSystem.writeAtomically(Array("half".utf8), to: "\(f.spool.stagingFolder(of: job))/partial")
        var queue = try f.spool.recover(retention: .archive, maxAttempts: 2, now: 3, logger: logger)
        #expect(queue.first?.attempts == 1 && queue.first?.state == .queued)
        job = try f.spool.startAttempt(queue[0], now: 4)
        #expect(FileSystem.entries(f.spool.stagingFolder(of: job)).isEmpty)  // a new attempt starts clean
        queue = try f.spool.recover(retention: .archive, maxAttempts: 2, now: 5, logger: logger)
        #expect(queue.isEmpty)
        let failed = try #require(try f.ledger.job(id: job.id))
        #expect(failed.state == .failed && failed.reasonCode == DaemonCode.attemptsExhausted.rawValue)
        #expect(FileSystem.entries(f.spool.inputFolder(job.id)) == ["a.dcm"])  // nothing lost
    }

    @Test(arguments: [DaemonConfiguration.Retention.keep, .archive, .delete])
    func commitPutsTheResultInPlaceThenAppliesRetention(retention: DaemonConfiguration.Retention) throws {
        let f = try Fixture(retention: retention)
        var job = try f.spool.claim(files: try f.drop(["a.dcm", "b.dcm"]), seriesUID: "1.2.3", source: "study", now: 1)
        job = try f.spool.startAttempt(job, now: 2)
        try FileSystem.writeAtomically(Array("result".utf8), to: "\(f.spool.stagingFolder(of: job))/image.nii.gz")
        job = try f.spool.commit(job, seriesUID: nil, retention: retention, now: 3)
        #expect(job.state == .done && job.resultDir == "\(f.config.paths.output)/1.2.3")
        #expect(f.contents("\(f.config.paths.output)/1.2.3/image.nii.gz") == "result")
        switch retention {
        case .keep: #expect(FileSystem.entries(f.spool.inputFolder(job.id)) == ["a.dcm", "b.dcm"])
        case .archive: #expect(FileSystem.entries("\(f.config.paths.archive)/\(job.id)") == ["a.dcm", "b.dcm"])
        case .delete: #expect(!FileSystem.exists("\(f.config.spoolPath)/\(job.id)"))
        }
    }

    @Test func aCommitInterruptedAfterTheRenameIsNotRedone() throws {
        let f = try Fixture()
        var job = try f.spool.claim(files: try f.drop(["a.dcm"]), seriesUID: "1.2.3", source: "study", now: 1)
        job = try f.spool.startAttempt(job, now: 2)
        try FileSystem.writeAtomically(Array("result".utf8), to: "\(f.spool.stagingFolder(of: job))/image.nii.gz")
        // The kill came after the rename and before the ledger heard of it.
        job.step = .committing
        job.resultDir = "\(f.config.paths.output)/1.2.3"
        try f.ledger.update(job)
        try FileSystem.rename(f.spool.stagingFolder(of: job), job.resultDir!)
        let queue = try f.spool.recover(retention: .archive, maxAttempts: 3, now: 3, logger: logger)
        #expect(queue.isEmpty)
        #expect(try f.ledger.job(id: job.id)?.state == .done)
        #expect(FileSystem.entries(f.config.paths.output) == ["1.2.3"])
        #expect(f.contents("\(f.config.paths.output)/1.2.3/image.nii.gz") == "result")
        #expect(FileSystem.entries("\(f.config.paths.archive)/\(job.id)") == ["a.dcm"])
    }

    @Test func quarantineKeepsTheFilesWithTheirReason() throws {
        let f = try Fixture()
        let job = try f.spool.claim(files: try f.drop(["x.txt"]), seriesUID: nil, source: "study", now: 1)
        let reason = QuarantineReason(code: "not-dicom", sentence: "The file is not DICOM.", detail: "1 file(s)")
        let done = try f.spool.quarantine(job, reason: reason, now: 2)
        #expect(done.state == .quarantined)
        let folder = "\(f.config.paths.quarantine)/\(job.id)"
        #expect(FileSystem.entries(folder) == ["files", "reason.json"])
        #expect(f.contents("\(folder)/files/x.txt") == "content of x.txt")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/reason.json")))
                as? [String: Any])
        #expect(json["code"] as? String == "not-dicom")
        #expect(json["sentence"] as? String == "The file is not DICOM.")
        #expect(json["job_id"] as? String == job.id)
        #expect(!FileSystem.exists("\(f.config.spoolPath)/\(job.id)"))
    }

    @Test func theLedgerIsReadableWhileTheDaemonHoldsIt() throws {
        let f = try Fixture()
        _ = try f.spool.claim(files: try f.drop(["a.dcm"]), seriesUID: "9.8", source: "study", now: 1)
        let reader = try SQLiteJobLedger(readOnlyPath: f.config.ledgerPath)
        #expect(try reader.counts() == [.queued: 1])
        #expect(try reader.allJobs().first?.seriesUID == "9.8")
    }
}
