import Daemon
import Foundation
import Glibc
import Ingest
import NIfTI
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// Input a PACS or a person may send that once stopped the daemon or was never processed,
/// through the real `lcovnet serve`.
@Suite(.serialized, .enabled(if: DaemonHarness.binaryExists, "needs the lcovnet binary (swift build --build-tests)"))
struct DaemonHostileInputTests {
    /// A file whose parsing crashes the reader (DCMTK recursing through a sequence nested 50 000
    /// deep overflows its stack, with the nesting limit lifted so that it reaches DCMTK), beside a
    /// good series: the header worker dies, not the daemon; the file is set aside as
    /// `worker_crashed`, the good series is done, and the daemon is the same process throughout
    /// (once: SIGSEGV at every start).
    @Test func aFileThatCrashesTheReaderIsSetAsideAndTheGoodSeriesIsDone() throws {
        let h = try DaemonHarness(quietSeconds: 1.5)
        try h.start(environment: ["LCOVNET_MAX_SEQUENCE_NESTING": "1000000"])
        #expect(h.wait(seconds: 60) { h.logged("daemon started") })
        let pid = try #require(h.process?.processIdentifier)
        let poison = h.dir.file("nested.dcm")
        try DicomBytes.nestedSequences(depth: 50_000).write(to: URL(fileURLWithPath: poison))
        let good = try DaemonFixtures.series(in: h.dir.file("good"), seed: 4)
        for file in good.files + [poison] { try DaemonFixtures.drop(file, into: "\(h.watch)/study") }
        #expect(h.wait { h.finished(2) })
        #expect(h.isRunning && h.process?.processIdentifier == pid)
        let summary = h.jobs().map { "\($0.state.rawValue) \($0.reasonCode ?? "-") \($0.fileCount)" }.sorted()
        #expect(summary == ["done - \(good.files.count)", "quarantined worker_crashed 1"])
        let crashed = try #require(h.jobs().first { $0.state == .quarantined })
        let folder = try #require(crashed.resultDir)
        #expect(h.files("\(folder)/files") == ["nested.dcm"])
        let reason = try String(contentsOfFile: "\(folder)/reason.json", encoding: .utf8)
        #expect(reason.contains("signal 11"), "\(reason)")
        #expect(h.logged("a file crashed the header worker; it is set aside"))
        #expect(h.stop() == 0)
    }

    /// storescp writes Latin-1 names (a patient's folder "Müller" as the byte 0xFC): such a folder
    /// and file are renamed to their Latin-1 reading and processed (once: never processed, never
    /// quarantined), and the name reaches no log line.
    @Test func namesThatAreNotUTF8AreProcessed() throws {
        let h = try DaemonHarness(quietSeconds: 1)
        try h.start()
        let series = try DaemonFixtures.series(in: h.dir.file("s"), seed: 31)
        func bytePath(_ parts: [[UInt8]]) -> [CChar] {
            (parts.joined(separator: [UInt8(ascii: "/")]) + [0]).map { CChar(bitPattern: $0) }
        }
        let folder = Array(h.watch.utf8)
        let patient: [UInt8] = Array("M".utf8) + [0xFC] + Array("ller^Hans".utf8)
        #expect(mkdir(bytePath([folder, patient]), 0o755) == 0)
        for (n, file) in series.files.enumerated() {
            let name = n == 0 ? Array("Bild-".utf8) + [0xE9] + Array(".dcm".utf8) : Array(FileSystem.name(file).utf8)
            #expect(rename(file, bytePath([folder, patient, name])) == 0)
        }
        #expect(h.wait { h.finished(1) })
        #expect(h.jobs().map { "\($0.state.rawValue) \($0.fileCount)" } == ["done \(series.files.count)"])
        #expect(h.stop() == 0)
        #expect(!h.stdoutLines.contains { $0.contains("ller^Hans") })
        let volume = try NIfTIFile.read("\(h.output)/\(series.uid)/image.nii.gz").hounsfieldVolume()
        #expect(volume.voxels == series.volume.voxels)
    }

    /// Files without a SeriesInstanceUID are grouped by a key that hashes their watch folder; the
    /// job still finds its series once the files are in the spool (once: series-not-found).
    @Test func aSeriesWithoutUIDsIsProcessed() throws {
        let h = try DaemonHarness(quietSeconds: 1)
        try h.start()
        var options = DicomWriterOptions()
        options.emptyDatasetUIDs = true
        let volume = DaemonFixtures.volume(size: Extent3(24, 20, 8), seed: 32)
        let files = try DicomSeriesWriter(options).write(volume, to: h.dir.file("nouid")).files
        for file in files { try DaemonFixtures.drop(file, into: "\(h.watch)/study") }
        #expect(h.wait { h.finished(1) })
        let job = try #require(h.jobs().first)
        #expect(
            job.state == .done && job.fileCount == files.count,
            "\(job.state) \(job.reasonCode ?? "-") \(job.reason ?? "")")
        #expect(h.stop() == 0)
    }
}
