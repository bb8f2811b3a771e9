import Foundation
import ModelSpec
import Testing
import Volumes
@testable import Preprocess

/// A label map taken to the prepared grid (trilinear one-hot scores) and back (scores →
/// source grid → argmax) must land on its own voxels again.
@Suite struct RoundTripTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var source: Geometry
        var spec: InputPreparation
        var testDescription: String { name }
    }

    static let lasDirection = Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1])
    static let crop = InputPreparation.BodyCrop(thresholdHU: -500, marginMM: 10)

    static let cases: [Case] = [
        Case(name: "anisotropic axial LAS → LPS, 1.2×1.2×3 mm → 1.5×1.5×2 mm, body crop",
             source: centredGeometry(size: Extent3(220, 190, 76), spacing: [1.2, 1.2, 3], direction: lasDirection),
             spec: InputPreparation(orientation: "LPS", resample: .spacing([1.5, 1.5, 2]),
                                    normalization: .clipScale(min: -200, max: 300), bodyCrop: crop)),
        Case(name: "oblique (20° about z, 12° about x) → RAS, 1.1×1.1×2.5 mm → 1.6 mm",
             source: centredGeometry(size: Extent3(240, 200, 92), spacing: [1.1, 1.1, 2.5],
                                     direction: rotation(zDegrees: 20, xDegrees: 12) * lasDirection),
             spec: InputPreparation(orientation: "RAS", resample: .spacing([1.6, 1.6, 1.6]),
                                    normalization: .zScore, bodyCrop: crop)),
        Case(name: "flipped RPI → LPS, 1×1×2 mm → 1.5×1.5×2 mm",
             source: centredGeometry(size: Extent3(260, 210, 112), spacing: [1, 1, 2],
                                     direction: Matrix3(columns: [-1, 0, 0], [0, 1, 0], [0, 0, -1])),
             spec: InputPreparation(orientation: "LPS", resample: .spacing([1.5, 1.5, 2]),
                                    normalization: .clipScale(min: -200, max: 300), bodyCrop: nil)),
        Case(name: "official fixed shape 144×128×112, stored order, z-score, 1.2×1.2×3 mm",
             source: centredGeometry(size: Extent3(220, 190, 76), spacing: [1.2, 1.2, 3], direction: lasDirection),
             spec: InputPreparation(orientation: nil, resample: .fixedShape(i: 144, j: 128, k: 112),
                                    normalization: .zScore, bodyCrop: nil)),
    ]

    @Test(arguments: cases)
    func labelsSurviveTheRoundTrip(_ c: Case) throws {
        let phantom = OrganPhantom.abdomen
        let labels = phantom.rasterize(on: c.source)
        let prepared = try Preparation.prepare(phantom.scan(on: c.source, bodyRadii: [120, 100, 1e9]), as: c.spec, threads: 2)
        let record = prepared.record

        // The grid is exact: every prepared voxel sits where the map says, in patient space.
        for index in [SIMD3<Double>(0, 0, 0), [3, 7, 11], [Double(record.preparedSize.i - 1), 5, Double(record.preparedSize.k - 1)]] {
            let viaMap = record.sourceGeometry.point(atIndex: record.map.sourceIndex(of: index))
            #expect(length(record.preparedGeometry.point(atIndex: index) - viaMap) < 1e-9)
        }

        let classes: [UInt8] = [0] + phantom.organs.map(\.label)
        let scores = ForwardScores(labels: labels, classes: classes, record: record)

        // Forward: the scores' argmax matches the phantom drawn directly on the prepared grid.
        let onPrepared = phantom.rasterize(on: record.preparedGeometry)
        let forward = scores.argmaxLabels(classes: classes, geometry: record.preparedGeometry)
        for organ in phantom.organs {
            let d = try #require(dice(forward, onPrepared, label: organ.label))
            #expect(d >= 0.95, "forward \(organ.label): Dice \(d)")
        }

        // Back, in slabs of 5 planes as a streaming merger would hand them.
        let labeler = SourceGridLabeler(record: record, classCount: classes.count, threads: 2)
        for slab in scores.slabs(planes: 5) { try labeler.add(slab) }
        let back = try labeler.finish().map { classes[Int($0)] }
        #expect(back.geometry == c.source)
        var report = [String]()
        for organ in phantom.organs {
            let d = try #require(dice(back, labels, label: organ.label))
            report.append("\(organ.label): \(String(format: "%.4f", d))")
            #expect(d >= 0.98, "label \(organ.label): Dice \(d)")
        }
        print("round trip Dice [\(c.name)] prepared \(record.preparedSize): \(report.joined(separator: ", "))")
    }
}

/// One-hot indicators of a label map, each resampled forward onto the prepared grid with the
/// same trilinear resampler and map the scan goes through: scores in `[c][k][j][i]`.
struct ForwardScores {
    var size: Extent3
    var classCount: Int
    var scores: [Float]

    init(labels: Volume<UInt8>, classes: [UInt8], record: PreparationRecord) {
        size = record.preparedSize
        classCount = classes.count
        scores = []
        scores.reserveCapacity(classes.count * size.count)
        for label in classes {
            let indicator = labels.map { $0 == label ? Float(1) : 0 }
            scores += Resampler.resample(indicator, map: record.map, size: size, threads: 2).voxels
        }
    }

    func slab(_ k: Range<Int>) -> ScoreSlab {
        let plane = size.i * size.j
        var part = [Float]()
        part.reserveCapacity(classCount * k.count * plane)
        for c in 0..<classCount {
            let base = c * size.count
            part += scores[(base + k.lowerBound * plane)..<(base + k.upperBound * plane)]
        }
        return ScoreSlab(kStart: k.lowerBound, kCount: k.count, classCount: classCount, sizeI: size.i, sizeJ: size.j, scores: part)
    }

    func slabs(planes: Int) -> [ScoreSlab] {
        stride(from: 0, to: size.k, by: planes).map { slab($0..<min(size.k, $0 + planes)) }
    }

    func argmaxLabels(classes: [UInt8], geometry: Geometry) -> Volume<UInt8> {
        var out = Volume<UInt8>(geometry: geometry, repeating: 0)
        for n in 0..<size.count {
            var best = 0
            for c in 1..<classCount where scores[c * size.count + n] > scores[best * size.count + n] { best = c }
            out.voxels[n] = classes[best]
        }
        return out
    }
}

extension ForwardScores: PreparedScoreProvider {
    func scores(preparedK k: Range<Int>) throws -> ScoreSlab { slab(k) }
}
