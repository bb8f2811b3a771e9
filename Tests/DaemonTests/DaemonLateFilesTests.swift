import Daemon
import Foundation
import Glibc
import Ingest
import NIfTI
import TestSupport
import Testing
import Volumes

/// Late files with the real daemon process: a file of a series that arrives after the series
/// was claimed (and processed) is processed with the rest of the series, and the series keeps
/// exactly one result.
@Suite(.serialized, .enabled(if: DaemonHarness.binaryExists, "needs the lcovnet binary (swift build --build-tests)"))
struct DaemonLateFilesTests {
    @Test func aLateFileIsProcessedWithItsSeriesAndTheResultReplaced() throws {
        let h = try DaemonHarness(quietSeconds: 1)
        try h.start()
        // Series 1 arrives without its last slice (a shorter series, processed as such); series
        // 2 without a middle one (a gap: quarantined as missing-slices).
        let one = try DaemonFixtures.series(in: h.dir.file("one"), size: Extent3(16, 16, 6), seed: 21, number: 1)
        let two = try DaemonFixtures.series(in: h.dir.file("two"), size: Extent3(16, 16, 6), seed: 22, number: 2)
        let lastOfOne = one.files[5]
        let middleOfTwo = two.files[2]
        for file in one.files where file != lastOfOne { try DaemonFixtures.drop(file, into: "\(h.watch)/study-1") }
        for file in two.files where file != middleOfTwo { try DaemonFixtures.drop(file, into: "\(h.watch)/study-2") }
        #expect(h.wait { h.finished(2) })
        #expect(h.jobs().contains { $0.seriesUID == one.uid && $0.state == .done && $0.fileCount == 5 })
        #expect(
            h.jobs().contains {
                $0.seriesUID == two.uid && $0.state == .quarantined && $0.reasonCode == "missing-slices"
            })

        // The missing files arrive late, into the same study folders.
        try DaemonFixtures.drop(lastOfOne, into: "\(h.watch)/study-1")
        try DaemonFixtures.drop(middleOfTwo, into: "\(h.watch)/study-2")
        #expect(h.wait { h.jobs().filter { $0.state == .done && $0.fileCount == 6 }.count == 2 })
        #expect(h.stop() == 0)

        // One result per series, each with every slice; the first result of series 1 kept aside.
        #expect(Set(FileSystem.entries(h.output)) == [one.uid, two.uid])
        for series in [one, two] {
            let volume = try NIfTIFile.read("\(h.output)/\(series.uid)/image.nii.gz").hounsfieldVolume()
            #expect(volume.geometry.size == series.volume.geometry.size)
            #expect(volume.voxels == series.volume.voxels)
            let last = try #require(h.jobs().last { $0.seriesUID == series.uid })
            #expect(last.state == .done && last.attempts == 1 && last.fileCount == 6)
            // Every input, archived once, under the job that processed them all.
            #expect(h.files("\(h.archive)/\(last.id)").count == 6)
        }
        #expect(h.files(h.archive).count == 12)
        #expect(FileSystem.entries("\(h.work)/replaced").count == 1)
        #expect(FileSystem.entries(h.quarantine).isEmpty)  // the gap was filled: its files moved on
        // Nothing is left for an operator to see to; the quarantined job says where its files went.
        #expect(h.jobs().allSatisfy { $0.state == .done })
        #expect(
            h.jobs().contains {
                $0.seriesUID == two.uid && $0.reasonCode == "merged" && $0.reason?.contains("missing-slices") == true
            })
        #expect(h.tree(h.output).allSatisfy { !FileSystem.name($0).hasPrefix(".") })
        #expect(h.files(h.watch).isEmpty && FileSystem.entries("\(h.work)/spool").isEmpty)
        #expect(h.logged("late files: the series is processed with every file held"))

        // The same series sent again, byte for byte, is not processed a third time.
        try h.start()
        let again = h.dir.file("again")
        try FileManager.default.createDirectory(atPath: again, withIntermediateDirectories: true)
        let archived = h.jobs().last { $0.seriesUID == one.uid }!.id
        for name in FileSystem.entries("\(h.archive)/\(archived)") {
            try FileManager.default.copyItem(atPath: "\(h.archive)/\(archived)/\(name)", toPath: "\(again)/\(name)")
            try DaemonFixtures.drop("\(again)/\(name)", into: "\(h.watch)/study-again")
        }
        #expect(h.wait { h.jobs().contains { $0.reasonCode == DaemonCode.alreadyProcessed.rawValue } })
        #expect(h.stop() == 0)
        #expect(h.jobs().filter { $0.seriesUID == one.uid && $0.attempts > 0 }.count == 2)
        #expect(FileSystem.entries("\(h.work)/replaced").count == 1)
    }

    /// A sender that pauses in the middle of a file: the part written so far is not quarantined
    /// but waits; once the file is whole, the series is processed with it (once: the half file
    /// went to quarantine and was then finished inside it).
    @Test func aFileCutShortByAPausedSenderWaitsForItsEnd() throws {
        // A file changed within three quiet periods waits: 9 s here, of which the test spends
        // one quiet period after the rest of the series is done.
        let h = try DaemonHarness(quietSeconds: 3)
        try h.start()
        let series = try DaemonFixtures.series(in: h.dir.file("one"), size: Extent3(16, 16, 6), seed: 23, number: 1)
        let last = series.files[5]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: last))
        for file in series.files where file != last { try DaemonFixtures.drop(file, into: "\(h.watch)/study") }
        let arriving = "\(h.watch)/study/\(FileSystem.name(last))"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: arriving))
        #expect(h.wait { h.jobs().contains { $0.state == .done && $0.fileCount == 5 } })
        Thread.sleep(forTimeInterval: 3.2)
        #expect(
            !h.jobs().contains { $0.state == .quarantined },
            "\(h.jobs().map { "\($0.state) \($0.reasonCode ?? "-") \($0.fileCount) \($0.reason ?? "")" })")
        #expect(FileManager.default.fileExists(atPath: arriving))
        #expect(h.logged("files that may still be arriving wait another quiet period"))
        // The sender goes on and finishes the file.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: arriving))
        try handle.seekToEnd()
        try handle.write(contentsOf: bytes.dropFirst(bytes.count / 2))
        try handle.close()
        #expect(h.wait { h.jobs().contains { $0.state == .done && $0.fileCount == 6 } })
        #expect(h.stop() == 0)
        #expect(FileSystem.entries(h.quarantine).isEmpty)
        let volume = try NIfTIFile.read("\(h.output)/\(series.uid)/image.nii.gz").hounsfieldVolume()
        #expect(volume.voxels == series.volume.voxels)
    }
}
