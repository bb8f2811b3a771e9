import Foundation
import ModelSpec
import Testing
import Volumes

@testable import Preprocess

@Suite struct SourceGridLabelerTests {
    struct Layout: CustomTestStringConvertible, Sendable {
        var name: String
        var direction: Matrix3
        var testDescription: String { name }
    }

    static let layouts = [
        Layout(
            name: "axial LAS (scan k along prepared k)", direction: Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1])),
        Layout(name: "RPI (scan k against prepared k)", direction: Matrix3(columns: [-1, 0, 0], [0, 1, 0], [0, 0, -1])),
        Layout(
            name: "sagittal AIL (scan k along prepared i)",
            direction: Matrix3(columns: [0, -1, 0], [0, 0, -1], [1, 0, 0]))
    ]

    static func setUp(_ direction: Matrix3) throws -> (
        labels: Volume<UInt8>, record: PreparationRecord, scores: ForwardScores, classes: [UInt8]
    ) {
        var phantom = OrganPhantom.abdomen
        // An adrenal-like rod 7 mm across: thinner than three prepared voxels.
        phantom.organs.append(.init(label: 12, centre: [30, 40, 30], radii: [3.5, 3.5, 20]))
        let source = centredGeometry(size: Extent3(120, 100, 70), spacing: [2.2, 2.2, 3], direction: direction)
        let spec = InputPreparation(
            orientation: "LPS", resample: .spacing([3, 3, 3.5]), normalization: .zScore,
            bodyCrop: .init(thresholdHU: -500, marginMM: 5))
        let prepared = try Preparation.prepare(
            phantom.scan(on: source, bodyRadii: [110, 90, 1e9]), as: spec, threads: 2)
        let labels = phantom.rasterize(on: source)
        let classes: [UInt8] = [0] + phantom.organs.map(\.label)
        return (
            labels, prepared.record, ForwardScores(labels: labels, classes: classes, record: prepared.record), classes
        )
    }

    @Test(arguments: layouts)
    func slabsOfAnySizeGiveTheSameLabelsAsTheWholeVolume(_ layout: Layout) throws {
        let (labels, record, scores, classes) = try Self.setUp(layout.direction)
        let whole = SourceGridLabeler(record: record, classCount: classes.count, threads: 1, sourceSlabDepth: 1000)
        try whole.add(scores.slab(0..<record.preparedSize.k))
        let reference = try whole.finish()
        for (planes, depth) in [(1, 1), (3, 7), (7, 16)] {
            let labeler = SourceGridLabeler(
                record: record, classCount: classes.count, threads: 2, sourceSlabDepth: depth)
            for slab in scores.slabs(planes: planes) { try labeler.add(slab) }
            #expect(
                try labeler.finish().voxels == reference.voxels,
                "fed \(planes) planes at a time, scan slabs of \(depth)")
        }
        let pulled = SourceGridLabeler(record: record, classCount: classes.count, threads: 2, sourceSlabDepth: 5)
        try pulled.run(pulling: scores)
        #expect(try pulled.finish().voxels == reference.voxels)

        // The thin rod survives the trip through a grid coarser than itself.
        let back = reference.map { classes[Int($0)] }
        let rod = try #require(dice(back, labels, label: 12))
        #expect(rod >= 0.7, "rod Dice \(rod)")
        print(
            "slab test [\(layout.name)] rod Dice \(String(format: "%.3f", rod)), liver \(String(format: "%.4f", dice(back, labels, label: 1)!))"
        )
    }

    @Test func outOfOrderOrMisshapenScoresAreRefused() throws {
        let (_, record, scores, classes) = try Self.setUp(Self.layouts[0].direction)
        let labeler = SourceGridLabeler(record: record, classCount: classes.count)
        #expect(throws: PreprocessError.self) { try labeler.add(scores.slab(2..<4)) }
        let wrongClasses = ScoreSlab(
            slices: 0..<1, size: Extent3(record.preparedSize.i, record.preparedSize.j, 1), classCount: 2,
            scores: [Float](repeating: 0, count: 2 * record.preparedSize.i * record.preparedSize.j))
        #expect(throws: PreprocessError.self) { try labeler.add(wrongClasses) }
        try labeler.add(scores.slab(0..<2))
        #expect(throws: PreprocessError.self) { try labeler.finish() }
    }
}
