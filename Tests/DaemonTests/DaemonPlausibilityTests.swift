import Daemon
import Foundation
import Ingest
import NIfTI
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// Crafted series beside a good one, through the real `lcovnet serve`: each crafted one is
/// quarantined with its plausibility code (a file-level one at grouping, series-level ones at
/// decoding), the good one is done, and the daemon is the same process throughout.
@Suite(.serialized, .enabled(if: DaemonHarness.binaryExists, "needs the lcovnet binary (swift build --build-tests)"))
struct DaemonPlausibilityTests {
    static func write(
        _ spacing: SIMD3<Double>, into folder: String, seed: Int,
        _ configure: (inout DicomWriterOptions) -> Void = { _ in }
    ) throws -> [String] {
        var volume = DaemonFixtures.volume(size: Extent3(16, 12, 5), seed: seed)
        volume.geometry.spacing = spacing
        var options = DicomWriterOptions()
        configure(&options)
        return try DicomSeriesWriter(options).write(volume, to: folder).files
    }

    @Test func implausibleSeriesAreQuarantinedWithTheirCodesBesideAGoodOne() throws {
        // The smallest budget: a header that sizes an allocation would show in the peaks below.
        let h = try DaemonHarness(quietSeconds: 1.5, memoryBudgetMB: 256)
        try h.start()
        #expect(h.wait(seconds: 60) { h.logged("daemon started") })
        let pid = try #require(h.process?.processIdentifier)
        // PixelSpacing 1e-300 (each file refused when its headers are read), slices a million
        // mm apart and a 45° "tilt" (series refused when assembled), and a plausible series.
        let tiny = try Self.write([1e-300, 1e-300, 2.5], into: h.dir.file("tiny"), seed: 1)
        let far = try Self.write([0.8, 0.8, 1e6], into: h.dir.file("far"), seed: 2)
        let tilted = try Self.write([0.8, 0.8, 2.5], into: h.dir.file("tilted"), seed: 3) { $0.gantryTiltDegrees = 45 }
        // 45 slices declaring Rows = Columns = 65535 over 64 × 64 pixel data (once: "failed to
        // allocate 386535260282 bytes" three times, and the good series failed with it).
        let huge = try DicomSeriesWriter().write(
            DaemonFixtures.volume(size: Extent3(64, 64, 45), seed: 5), to: h.dir.file("huge")
        ).files
        for file in huge {
            try DicomBytes.patchUInt16(file, group: 0x0028, element: 0x0010, value: 65535)
            try DicomBytes.patchUInt16(file, group: 0x0028, element: 0x0011, value: 65535)
        }
        let good = try DaemonFixtures.series(in: h.dir.file("good"), seed: 4)
        for (name, files) in [("tiny", tiny), ("far", far), ("tilted", tilted), ("huge", huge), ("good", good.files)] {
            for file in files { try DaemonFixtures.drop(file, into: "\(h.watch)/\(name)") }
        }
        #expect(h.wait { h.finished(5) })
        #expect(h.isRunning && h.process?.processIdentifier == pid)
        let summary = h.jobs().map { "\($0.source) \($0.state.rawValue) \($0.reasonCode ?? "-") \($0.fileCount)" }
            .sorted()
        #expect(
            summary == [
                "far quarantined implausible-geometry 5", "good done - \(good.files.count)",
                "huge quarantined implausible-size 45",
                "tilted quarantined implausible-tilt 5", "tiny quarantined implausible-geometry 5"
            ])
        for job in h.jobs() where job.state == .quarantined {
            let folder = try #require(job.resultDir)
            let reason = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/reason.json")))
                    as? [String: Any])
            #expect(reason["code"] as? String == job.reasonCode)
            #expect((reason["sentence"] as? String) == IngestCode(rawValue: job.reasonCode ?? "")?.sentence)
            #expect(h.files("\(folder)/files").count == job.fileCount)
        }
        let volume = try NIfTIFile.read("\(h.output)/\(good.uid)/image.nii.gz").hounsfieldVolume()
        #expect(volume.voxels == good.volume.voxels)
        #expect(h.stop() == 0)
        // Measured: the daemon and its largest worker stayed inside the budget (the scans are tiny).
        let stopped = try #require(h.stdoutLines.last { $0.contains("\"message\":\"daemon stopped\"") })
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(stopped.utf8)) as? [String: Any])
        func megabytes(_ key: String) -> Int? {
            (fields[key] as? NSNumber)?.intValue ?? Int(fields[key] as? String ?? "")
        }
        let own = try #require(megabytes("peak_rss_mb"))
        let worker = try #require(megabytes("worker_peak_rss_mb"))
        #expect(own > 0 && own <= 256 && worker > 0 && worker <= 256, "daemon \(own) MB, worker \(worker) MB")
    }
}
