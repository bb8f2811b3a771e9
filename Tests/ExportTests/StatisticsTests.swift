import Foundation
import ModelSpec
import TestSupport
import Testing
import Volumes

@testable import Export

@Suite struct StatisticsTests {
    @Test func volumesAreCountsTimesVoxelVolume() throws {
        let (labels, scan) = ExportFixture.make()
        let stats = try OrganStatistics.measure(labels: labels, scan: scan, classes: OrganClass.word, threads: 2)
        #expect(stats.map(\.label) == Array(1...16))
        let voxelML = 1.6 * 1.6 * 4.5 / 1000
        for organ in stats {
            let count = labels.voxels.count { Int($0) == organ.label }
            #expect(organ.voxelCount == count)
            #expect(abs(organ.volumeML - Double(count) * voxelML) <= 1e-9 * max(1, organ.volumeML))
            #expect((organ.huMean == nil) == (count == 0))
        }
        // The bladder, which touches no other organ, is an ellipsoid of 4/3·π·30·28·22 mm³ ≈ 77.4 ml.
        let bladder = try #require(stats.first { $0.label == 14 })
        #expect(abs(bladder.volumeML - 4 / 3 * Double.pi * 30 * 28 * 22 / 1000) < 4, "4.5 mm slices")
    }

    @Test(.enabled(if: ReferenceTools.hasPythonModules("numpy"), "needs python3 with numpy"))
    func meansStdsAndBoxesMatchNumpy() throws {
        let dir = try TemporaryDirectory()
        let (labels, scan) = ExportFixture.make()
        try Data(labels.voxels).write(to: URL(fileURLWithPath: dir.file("l.raw")))
        try scan.voxels.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir.file("s.raw"))) }
        let script = """
            import sys, json, numpy as np
            l = np.fromfile(sys.argv[1], np.uint8).reshape(44, 130, 150)
            s = np.fromfile(sys.argv[2], '<i2').reshape(44, 130, 150).astype(np.float64)
            out = {}
            for v in range(1, 17):
                m = l == v
                if m.any():
                    k, j, i = np.nonzero(m)
                    out[v] = [float(s[m].mean()), float(s[m].std()), [int(i.min()), int(j.min()), int(k.min())], [int(i.max()), int(j.max()), int(k.max())]]
            print(json.dumps(out))
            """
        let reference =
            try JSONSerialization.jsonObject(
                with: Data(ReferenceTools.python(script, [dir.file("l.raw"), dir.file("s.raw")]).utf8))
            as! [String: [Any]]
        let stats = try OrganStatistics.measure(labels: labels, scan: scan, classes: OrganClass.word, threads: 2)
        #expect(reference.count == 6)
        for organ in stats where organ.voxelCount > 0 {
            let r = try #require(reference[String(organ.label)])
            #expect(abs(organ.huMean! - (r[0] as! Double)) < 1e-6)
            #expect(abs(organ.huStd! - (r[1] as! Double)) < 1e-6)
            #expect(organ.bboxMin! == r[2] as! [Int])
            #expect(organ.bboxMax! == r[3] as! [Int])
        }
    }

    @Test func reportAndProvenanceAreWrittenAsDocumentedJSON() throws {
        let dir = try TemporaryDirectory()
        let (labels, scan) = ExportFixture.make()
        let model = StatisticsReport.Model(id: "lcovnet-word", version: "1.0.0")
        let organs = try OrganStatistics.measure(labels: labels, scan: scan, classes: OrganClass.word)
        try StatisticsReport(
            model: model, precision: "int8",
            stages: [.init(stage: "read", seconds: 0.5), .init(stage: "inference", seconds: 2.25)],
            geometry: labels.geometry, organs: organs
        ).write(into: dir.path)
        try Provenance(
            input: .init(kind: "dicom", seriesInstanceUID: "1.2.3", geometry: scan.geometry), model: model,
            softwareVersion: "0.1.0", precision: "int8", threads: 2, memoryBudgetMiB: 512
        ).write(into: dir.path)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
                "provenance.json", "statistics.json"
            ])

        let stats =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("statistics.json"))))
            as! [String: Any]
        #expect((stats["model"] as! [String: String]) == ["id": "lcovnet-word", "version": "1.0.0"])
        #expect(stats["precision"] as! String == "int8")
        #expect((stats["stage_seconds"] as! [[String: Any]]).map { $0["stage"] as! String } == ["read", "inference"])
        let liver = (stats["organs"] as! [[String: Any]])[0]
        #expect(
            Set(liver.keys) == [
                "label", "name", "voxel_count", "volume_ml", "hu_mean", "hu_std", "bbox_min_ijk", "bbox_max_ijk"
            ])
        #expect(liver["name"] as! String == "liver")

        let provenance =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("provenance.json"))))
            as! [String: Any]
        let input = provenance["input"] as! [String: Any]
        #expect(input["series_instance_uid"] as! String == "1.2.3")
        let grid = input["grid"] as! [String: Any]
        #expect(grid["size"] as! [Int] == [150, 130, 44])
        #expect(grid["orientation"] as! String == "LAS")
        let affine = (grid["affine_ras"] as! [[Double]]).flatMap { $0 }
        #expect(zip(affine, scan.geometry.affineRAS.flatMap { $0 }).allSatisfy { abs($0 - $1) < 1e-9 })
        #expect(provenance["memory_budget_mib"] as! Int == 512)
        #expect(provenance["software_version"] as! String == "0.1.0")
    }
}
