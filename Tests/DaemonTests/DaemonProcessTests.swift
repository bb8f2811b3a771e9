import Daemon
import Foundation
import Glibc
import Ingest
import NIfTI
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// These tests run the real daemon process (`lcovnet serve` from the build folder) on a
/// temporary watch folder, with the real job (Ingest → NIfTI).
@Suite(.serialized, .enabled(if: DaemonHarness.binaryExists, "needs the lcovnet binary (swift build --build-tests)"))
struct DaemonProcessTests {
    /// The result holds exactly the voxels and grid of the series that was sent.
    func expectResult(
        _ h: DaemonHarness, _ series: DaemonFixtures.Series, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let folder = "\(h.output)/\(series.uid)"
        #expect(h.files(folder) == ["image.nii.gz", "series.json"], sourceLocation: sourceLocation)
        let volume = try NIfTIFile.read("\(folder)/image.nii.gz").hounsfieldVolume()
        #expect(volume.geometry.size == series.volume.geometry.size, sourceLocation: sourceLocation)
        #expect(volume.voxels == series.volume.voxels, sourceLocation: sourceLocation)
    }

    /// Every stdout line is one JSON object, and none holds the phantom's name or ID.
    func expectCleanLogs(_ h: DaemonHarness, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = h.stdoutLines
        #expect(!lines.isEmpty, sourceLocation: sourceLocation)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["message"] is String, "not a JSON log line: \(line)", sourceLocation: sourceLocation)
            for identity in DaemonHarness.phantomIdentity {
                #expect(
                    !line.contains(identity), "patient identity in the log: \(line)", sourceLocation: sourceLocation)
            }
        }
    }

    // Quiet periods are generous against the pace of the drops: a loaded CI machine must not
    // split a series by pausing the test between two files.
    @Test func aSeriesDroppedFileByFileIsProcessedOnce() throws {
        let h = try DaemonHarness(quietSeconds: 2.5)
        let socket = try NotifySocket(path: h.dir.file("notify.sock"))
        try h.start(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "2000000"])
        var notes: [String] = []
        let series = try DaemonFixtures.series(in: h.dir.file("sent"), seed: 1)
        let study = "\(h.watch)/study-1"
        try FileManager.default.createDirectory(atPath: study, withIntermediateDirectories: true)
        for file in series.files {
            // Written in place (create, write, close), as a DICOM receiver does, at a slower pace than the quiet time needs.
            try FileManager.default.copyItem(atPath: file, toPath: "\(study)/\(FileSystem.name(file))")
            usleep(150_000)
        }
        #expect(h.wait { h.finished(1) })
        notes += socket.drain()
        usleep(2_500_000)  // a quiet period and a rescan more: nothing is claimed twice
        let jobs = h.jobs()
        #expect(jobs.count == 1)
        #expect(jobs.first?.state == .done && jobs.first?.attempts == 1 && jobs.first?.seriesUID == series.uid)
        #expect(jobs.first?.fileCount == series.files.count)
        try expectResult(h, series)
        #expect(h.files(h.archive).count == series.files.count)  // retention: archive
        #expect(h.files(h.watch).isEmpty)

        // `lcovnet status --json` reads the same ledger while the daemon runs.
        let status = try ReferenceTools.run(DaemonHarness.binary, ["status", "--config", h.configPath, "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect((report["counts"] as? [String: Int])?["done"] == 1)

        // SIGHUP reloads the configuration; the daemon keeps running.
        notes += socket.drain()
        try h.dir.file("lcovnet.toml").appendingToFile("[log]\nlevel = \"debug\"\n")
        kill(h.process!.processIdentifier, SIGHUP)
        #expect(h.wait(seconds: 60) { h.logged("configuration reloaded") })
        #expect(h.isRunning)
        notes += socket.drain()

        #expect(h.stop(SIGTERM) == 0)
        #expect(h.logged("daemon stopped"))
        notes += socket.drain()
        #expect(notes.first?.hasPrefix("READY=1") == true)
        #expect(notes.contains("WATCHDOG=1"))
        #expect(notes.contains("RELOADING=1"))
        #expect(notes.contains("STOPPING=1"))
        expectCleanLogs(h)
    }

    @Test func twoInterleavedSeriesBothFinish() throws {
        let h = try DaemonHarness(quietSeconds: 2)
        try h.start()
        let a = try DaemonFixtures.series(in: h.dir.file("a"), size: Extent3(24, 20, 8), seed: 2, number: 2)
        let b = try DaemonFixtures.series(in: h.dir.file("b"), size: Extent3(16, 16, 6), seed: 3, number: 3)
        // Named as storescp --sort-on-patientname names it: the name must not reach the logs.
        let study = "\(h.watch)/\(DaemonHarness.phantomIdentity[0])"
        for index in 0..<max(a.files.count, b.files.count) {
            if index < a.files.count { try DaemonFixtures.drop(a.files[index], into: study) }
            if index < b.files.count { try DaemonFixtures.drop(b.files[index], into: study) }
            usleep(100_000)
        }
        #expect(h.wait { h.finished(2) })
        let jobs = h.jobs()
        #expect(Set(jobs.map(\.seriesUID)) == [a.uid, b.uid])
        #expect(jobs.allSatisfy { $0.state == .done })
        try expectResult(h, a)
        try expectResult(h, b)
        #expect(h.stop() == 0)
        expectCleanLogs(h)
    }

    /// `[ingest] missing_slices = "repair"` reaches the worker that decodes: a series sent with
    /// a slice missing is completed by interpolation instead of quarantined (the default).
    @Test(arguments: [false, true])
    func theIngestPolicyIsTheConfigurations(repair: Bool) throws {
        let h = try DaemonHarness(quietSeconds: 1, ingest: repair ? "missing_slices = \"repair\"" : "")
        try h.start()
        let series = try DaemonFixtures.series(in: h.dir.file("gap"), size: Extent3(16, 16, 6), seed: 9)
        for (index, file) in series.files.enumerated() where index != 3 {
            try DaemonFixtures.drop(file, into: "\(h.watch)/gap")
        }
        #expect(h.wait { h.finished(1) })
        let job = try #require(h.jobs().first)
        if repair {
            #expect(job.state == .done, "\(job)")
            let volume = try NIfTIFile.read("\(h.output)/\(series.uid)/image.nii.gz").hounsfieldVolume()
            #expect(volume.geometry.size == series.volume.geometry.size)
        } else {
            #expect(job.state == .quarantined && job.reasonCode == "missing-slices", "\(job)")
        }
        #expect(h.stop() == 0)
    }

    @Test func badFilesAreQuarantinedWithReasonsWhileTheDaemonCarriesOn() throws {
        let h = try DaemonHarness(quietSeconds: 2)
        try h.start()
        let good = try DaemonFixtures.series(in: h.dir.file("good"), seed: 4)
        let broken = try DaemonFixtures.series(in: h.dir.file("broken"), size: Extent3(16, 16, 4), seed: 5)
        let bad = "\(h.watch)/bad"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try "not an image at all\n".write(toFile: "\(bad)/notes.txt", atomically: true, encoding: .utf8)
        // Cut inside the header: not even the series can be read.
        let header = try Data(contentsOf: URL(fileURLWithPath: broken.files[0])).prefix(200)
        try header.write(to: URL(fileURLWithPath: "\(bad)/cut-header.dcm"))
        // A whole series whose pixel data is cut short in one file.
        let damaged = "\(h.watch)/damaged"
        for file in broken.files { try DaemonFixtures.drop(file, into: damaged) }
        let victim = "\(damaged)/\(FileSystem.name(broken.files[1]))"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        try bytes.prefix(bytes.count - 300).write(to: URL(fileURLWithPath: victim))

        // bad/: two files with two reasons; damaged/: the cut file alone (its header no longer
        // parses), then the rest of its series, which now has a gap.
        #expect(h.wait { h.finished(4) })
        #expect(h.isRunning)
        // The daemon is still up and processes the next series.
        for file in good.files { try DaemonFixtures.drop(file, into: "\(h.watch)/good") }
        #expect(h.wait { h.jobs().contains { $0.seriesUID == good.uid && $0.state == .done } })
        try expectResult(h, good)

        let quarantined = h.jobs().filter { $0.state == .quarantined }
        let summary = quarantined.map { "\($0.source) \($0.reasonCode ?? "") \($0.fileCount)" }.sorted()
        #expect(
            summary == [
                "bad corrupt 1", "bad not-dicom 1", "damaged corrupt 1",
                "damaged missing-slices \(broken.files.count - 1)"
            ])
        for job in quarantined {
            let folder = try #require(job.resultDir)
            let reason = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/reason.json")))
                    as? [String: Any])
            #expect(reason["code"] as? String == job.reasonCode)
            #expect((reason["sentence"] as? String)?.isEmpty == false)
            #expect(reason["job_id"] as? String == job.id)
            #expect(h.files("\(folder)/files").count == job.fileCount)  // the inputs are kept with their reason
        }
        #expect(!FileManager.default.fileExists(atPath: "\(h.output)/\(broken.uid)"))
        #expect(h.stop() == 0)
        expectCleanLogs(h)
    }

    /// kill -9 at random instants while series arrive; after each restart every series ends with
    /// exactly one complete result, nothing temporary under the results, and no input lost.
    @Test func killedAtRandomInstantsNothingIsLostOrDuplicated() throws {
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<3 {
            let h = try DaemonHarness(quietSeconds: 1, maxAttempts: 50)
            let sent = try (0..<3).map {
                try DaemonFixtures.series(in: h.dir.file("s\($0)"), seed: 10 * trial + $0, number: $0 + 1)
            }
            try h.start()
            // Series arrive while the daemon is killed and restarted three times.
            for (index, series) in sent.enumerated() {
                for file in series.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study-\(index)") }
                usleep(UInt32.random(in: 200_000...900_000, using: &generator))
                h.stop(SIGKILL)
                try h.start()
            }
            #expect(
                h.wait(seconds: 300) { h.jobs().filter { $0.state == .done }.count == sent.count }, "trial \(trial)")
            #expect(h.stop() == 0)
            for series in sent { try expectResult(h, series) }
            #expect(Set(FileSystem.entries(h.output)) == Set(sent.map(\.uid)))
            #expect(
                h.tree(h.output).allSatisfy { !FileSystem.name($0).hasPrefix(".") }, "temporary file under the results")
            // Every input is archived exactly once; nothing is left behind or lost.
            #expect(h.files(h.archive).count == sent.reduce(0) { $0 + $1.files.count })
            #expect(h.files(h.watch).isEmpty)
            #expect(FileSystem.entries("\(h.work)/spool").isEmpty)
            #expect(h.jobs().allSatisfy { $0.state == .done })
            expectCleanLogs(h)
        }
    }

    @Test func aLocalizerIsSetAsideWithItsReasonAndTheSeriesStillFinishes() throws {
        let h = try DaemonHarness(quietSeconds: 1.5)
        try h.start()
        let v = DaemonFixtures.volume(size: Extent3(16, 16, 5), seed: 8)
        var options = DicomWriterOptions()
        options.addLocalizer = true
        let written = try DicomSeriesWriter(options).write(v, to: h.dir.file("loc"))
        for file in written.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study-loc") }
        #expect(h.wait { h.finished(2) })
        let jobs = h.jobs()
        #expect(jobs.contains { $0.seriesUID == written.seriesInstanceUID && $0.state == .done && $0.fileCount == 5 })
        #expect(jobs.contains { $0.state == .quarantined && $0.reasonCode == "localizer" && $0.fileCount == 1 })
        try expectResult(h, DaemonFixtures.Series(uid: written.seriesInstanceUID, files: written.files, volume: v))
        #expect(h.stop() == 0)
    }

    @Test func aMarkerFileCompletesAFolderAtOnce() throws {
        let h = try DaemonHarness(quietSeconds: 600)
        try h.start()
        let series = try DaemonFixtures.series(in: h.dir.file("m"), seed: 6)
        for file in series.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study-m") }
        try "".write(toFile: "\(h.watch)/study-m/lcovnet.complete", atomically: false, encoding: .utf8)
        // Far sooner than the 600 s quiet period.
        #expect(h.wait(seconds: 240) { h.finished(1) })
        try expectResult(h, series)
        #expect(FileSystem.entries("\(h.watch)/study-m").isEmpty)  // the marker is consumed, never processed
        #expect(h.stop() == 0)
    }

    @Test func anInvalidConfigurationStopsWithTheKeyAndTheFix() throws {
        let h = try DaemonHarness(extra: "[retention]\nafter_success = \"shred\"\n")
        try h.start()
        h.process!.waitUntilExit()
        #expect(h.process!.terminationStatus == 78)
        #expect(h.stderrText.contains("retention.after_success"))
        #expect(h.stderrText.contains("\"archive\""))
    }
}

extension String {
    func appendingToFile(_ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: self))
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try handle.close()
    }
}
