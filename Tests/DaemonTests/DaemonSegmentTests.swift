import Daemon
import Foundation
import Glibc
import Ingest
import NIfTI
import Phantom
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// The real daemon process with the real job: `[job] kind = "segment"` and the shipped default
/// model, on a small phantom series (one window, so it stays fast in a debug build).
@Suite(
    .serialized,
    .enabled(if: DaemonHarness.binaryExists && ShippedModel.exists, "needs the lcovnet binary and Models/default"))
struct DaemonSegmentTests {

    /// Eight axial slices through the middle of a phantom abdomen on a 48 × 48 matrix (180 mm
    /// field of view, 5 mm slices): about one window of the model.
    static func phantomSlab(seed: UInt64 = 3) -> Volume<Int16> {
        let phantom = PhantomGenerator.generate(
            PhantomOptions(seed: seed, matrix: 48, sliceSpacing: 5, fieldOfView: 180)
        ).image
        let g = phantom.geometry
        let count = 8
        let first = (g.size.k - count) / 2
        let plane = g.size.i * g.size.j
        var slab = g
        slab.size = Extent3(g.size.i, g.size.j, count)
        slab.origin = g.origin + SIMD3(0, 0, Double(first) * g.spacing.z)
        return Volume(geometry: slab, voxels: Array(phantom.voxels[(first * plane)..<((first + count) * plane)]))
    }

    @Test func aPhantomSeriesIsSegmentedOnceAndAnMRSeriesQuarantined() throws {
        let h = try DaemonHarness(
            quietSeconds: 1,
            job: "kind = \"segment\"\nmodel = \"\(ShippedModel.path)\"\nprecision = \"fp32\"\nthreads = 2")
        try h.start()
        let scan = Self.phantomSlab()
        var ct = DicomWriterOptions()
        ct.seriesNumber = 5
        let sent = try DicomSeriesWriter(ct).write(scan, to: h.dir.file("ct"))
        ct.seriesNumber = 7
        let second = try DicomSeriesWriter(ct).write(Self.phantomSlab(seed: 4), to: h.dir.file("ct2"))
        var mr = DicomWriterOptions()
        mr.seriesNumber = 6
        mr.modality = "MR"
        let other = try DicomSeriesWriter(mr).write(
            DaemonFixtures.volume(size: Extent3(16, 16, 4), seed: 31), to: h.dir.file("mr"))
        for file in sent.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study-ct") }
        for file in second.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study-ct") }
        for file in other.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study-mr") }

        #expect(h.wait(seconds: 600) { h.finished(3) })
        // The distillation cache is fed from the children's files, which are gone afterwards.
        #expect(h.wait(seconds: 120) { h.logged("series cached for retraining") })
        #expect(h.wait(seconds: 60) { h.files("\(h.work)/worker").isEmpty })
        #expect(h.stop() == 0)
        let jobs = h.jobs()
        // Exactly one result set per CT series, with every file of `lcovnet segment`.
        #expect(Set(FileSystem.entries(h.output)) == [sent.seriesInstanceUID, second.seriesInstanceUID])
        for uid in [sent.seriesInstanceUID, second.seriesInstanceUID] {
            let folder = "\(h.output)/\(uid)"
            let labels = try NIfTIFile.read("\(folder)/segmentation.nii.gz")
            let found = try labels.labelVolume().voxels.contains { $0 != 0 }
            #expect(
                h.files(folder) == ["preview.png", "provenance.json"]
                    + (found ? ["rtstruct.dcm", "segmentation.dcm"] : [])
                    + ["segmentation.nii.gz", "segmentation.nii.zst", "statistics.json"])
            #expect(labels.geometry.size == scan.geometry.size)
            let statistics = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/statistics.json"))) as? [String: Any])
            #expect(statistics["organs"] != nil)
            #expect(jobs.filter { $0.seriesUID == uid }.map { "\($0.state) \($0.attempts)" } == ["done 1"])
        }

        // Pipelined: one series was decoded while the other was being segmented.
        let stageLines = h.stdoutLines.compactMap { line -> (job: String, stage: String)? in
            guard line.contains("\"message\":\"stage finished\""),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let job = object["job.id"] as? String, let stage = object["stage"] as? String
            else { return nil }
            return (job, stage)
        }
        let firstJob = try #require(stageLines.first?.job)
        let firstComputed = try #require(stageLines.firstIndex { $0.job == firstJob && $0.stage == "compute" })
        let otherDecoded = try #require(stageLines.firstIndex { $0.job != firstJob && $0.stage == "decode" })
        #expect(otherDecoded < firstComputed, "\(stageLines)")

        // The MR series is set aside with its reason, every file kept beside reason.json.
        let quarantined = try #require(jobs.first { $0.state == .quarantined })
        #expect(quarantined.reasonCode == IngestCode.notCT.rawValue)
        let reason = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(quarantined.resultDir!)/reason.json"))) as? [String: Any]
        )
        #expect(reason["code"] as? String == "not-ct")
        #expect(h.files("\(quarantined.resultDir!)/files").count == other.files.count)

        // The three stages ran, and the logs stay JSON without the phantom's identity.
        #expect(h.logged("series segmented"))
        for line in h.stdoutLines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not JSON: \(line)")
            for identity in DaemonHarness.phantomIdentity { #expect(!line.contains(identity)) }
        }
    }

    /// Prepare, infer and write run in children of the daemon under `[limits] job_seconds`: a
    /// series whose segmentation runs past it costs its own attempts (the child killed each
    /// time), is quarantined as worker_crashed, and the daemon carries on in the same process.
    @Test func aSeriesComputingPastItsDeadlineCostsOnlyItsOwnAttempts() throws {
        let h = try DaemonHarness(
            quietSeconds: 1, maxAttempts: 2,
            job: "kind = \"segment\"\nmodel = \"\(ShippedModel.path)\"\nprecision = \"fp32\"\nthreads = 1",
            limits: "job_seconds = 1")
        try h.start()
        // A whole phantom abdomen at 256²: far more than a second of preparing and inferring.
        let scan = PhantomGenerator.generate(PhantomOptions(seed: 5, matrix: 256, sliceSpacing: 5)).image
        let sent = try DicomSeriesWriter(DicomWriterOptions()).write(scan, to: h.dir.file("ct"))
        for file in sent.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study") }

        #expect(h.wait(seconds: 600) { h.finished(1) })
        #expect(h.stop() == 0)
        #expect(h.runs == 1)
        let job = try #require(h.jobs().first)
        #expect("\(job.state) \(job.attempts)" == "quarantined 2")
        #expect(job.reasonCode == "worker_crashed")
        let reason = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(job.resultDir!)/reason.json"))) as? [String: Any])
        #expect(
            (reason["detail"] as? String)?.contains("the segment worker ran past its deadline of 1 s") == true,
            "\(reason)")
        #expect(h.logged("worker crashed; job will be retried"))
        #expect(FileSystem.entries(h.output).isEmpty)
    }
}

/// Models/default in this source tree.
enum ShippedModel {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models/default").path
    static var exists: Bool { FileManager.default.fileExists(atPath: "\(path)/manifest.json") }
}
