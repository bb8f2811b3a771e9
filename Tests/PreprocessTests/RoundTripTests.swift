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
        Case(
            name: "anisotropic axial LAS → LPS, 1.5×1.5×4 mm → 2×2×3 mm, body crop",
            source: centredGeometry(size: Extent3(176, 150, 56), spacing: [1.5, 1.5, 4], direction: lasDirection),
            spec: InputPreparation(
                orientation: "LPS", resample: .spacing([2, 2, 3]),
                normalization: .clipScale(min: -200, max: 300), bodyCrop: crop)),
        Case(
            name: "oblique (20° about z, 12° about x) → RAS, 1.5×1.5×3 mm → 2.5 mm",
            source: centredGeometry(
                size: Extent3(176, 150, 76), spacing: [1.5, 1.5, 3],
                direction: rotation(zDegrees: 20, xDegrees: 12) * lasDirection),
            spec: InputPreparation(
                orientation: "RAS", resample: .spacing([2.5, 2.5, 2.5]),
                normalization: .zScore, bodyCrop: crop)),
        Case(
            name: "flipped RPI → LPS, 1.4×1.4×3 mm → 2×2×2.5 mm",
            source: centredGeometry(
                size: Extent3(190, 160, 76), spacing: [1.4, 1.4, 3],
                direction: Matrix3(columns: [-1, 0, 0], [0, 1, 0], [0, 0, -1])),
            spec: InputPreparation(
                orientation: "LPS", resample: .spacing([2, 2, 2.5]),
                normalization: .clipScale(min: -200, max: 300), bodyCrop: nil)),
        Case(
            name: "official fixed shape 112×96×80, stored order, z-score, 1.5×1.5×4 mm",
            source: centredGeometry(size: Extent3(176, 150, 56), spacing: [1.5, 1.5, 4], direction: lasDirection),
            spec: InputPreparation(
                orientation: nil, resample: .fixedShape(i: 112, j: 96, k: 80),
                normalization: .zScore, bodyCrop: nil))
    ]

    @Test(arguments: cases)
    func labelsSurviveTheRoundTrip(_ c: Case) throws {
        let phantom = OrganPhantom.abdomen
        let labels = phantom.rasterize(on: c.source)
        let prepared = try Preparation.prepare(
            phantom.scan(on: c.source, bodyRadii: [120, 100, 1e9]), as: c.spec, threads: 2)
        let record = prepared.record

        // The grid is exact: every prepared voxel sits where the map says, in patient space.
        for index in [
            SIMD3<Double>(0, 0, 0), [3, 7, 11],
            [Double(record.preparedSize.i - 1), 5, Double(record.preparedSize.k - 1)]
        ] {
            let viaMap = record.sourceGeometry.point(atIndex: record.map.sourceIndex(of: index))
            #expect(length(record.preparedGeometry.point(atIndex: index) - viaMap) < 1e-9)
        }

        let classes: [UInt8] = [0] + phantom.organs.map(\.label)
        let scores = ForwardScores(labels: labels, classes: classes, record: record)

        // Forward: each organ's score mass sits where the organ is in patient space (centroids
        // agree to a fraction of a voxel; a half-voxel slip of the grid would show as ≥ 1 mm).
        for (c, label) in classes.enumerated() where label != 0 {
            let expected = centroid(of: labels, label: label)
            let forward = scores.centroid(ofClass: c, geometry: record.preparedGeometry)
            #expect(
                length(forward - expected) < 0.3,
                "forward centroid of \(label) is off by \(length(forward - expected)) mm")
        }

        // Back, in slabs of 5 planes as a streaming merger would hand them.
        let labeler = SourceGridLabeler(record: record, classCount: classes.count, threads: 2, sourceSlabDepth: 8)
        for slab in scores.slabs(planes: 5) { try labeler.add(slab) }
        let finished = try labeler.finish()
        let back = Volume(geometry: finished.geometry, voxels: finished.voxels.map { classes[Int($0)] })
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

/// Mean patient position of the voxels of one label.
func centroid(of labels: Volume<UInt8>, label: UInt8) -> SIMD3<Double> {
    let s = labels.geometry.size
    var sum = SIMD3<Double>()
    var count = 0.0
    for k in 0..<s.k {
        for j in 0..<s.j {
            for i in 0..<s.i where labels.voxels[i + s.i * (j + s.j * k)] == label {
                sum += SIMD3(Double(i), Double(j), Double(k))
                count += 1
            }
        }
    }
    return labels.geometry.point(atIndex: sum / count)
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
            let indicator = Volume(geometry: labels.geometry, voxels: labels.voxels.map { $0 == label ? Float(1) : 0 })
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
        return ScoreSlab(slices: k, size: Extent3(size.i, size.j, k.count), classCount: classCount, scores: part)
    }

    func slabs(planes: Int) -> [ScoreSlab] {
        stride(from: 0, to: size.k, by: planes).map { slab($0..<min(size.k, $0 + planes)) }
    }

    /// Score-weighted mean patient position of one class.
    func centroid(ofClass c: Int, geometry: Geometry) -> SIMD3<Double> {
        var sum = SIMD3<Double>()
        var weight = 0.0
        for k in 0..<size.k {
            for j in 0..<size.j {
                for i in 0..<size.i {
                    let w = Double(scores[c * size.count + i + size.i * (j + size.j * k)])
                    guard w > 0 else { continue }
                    sum += w * SIMD3(Double(i), Double(j), Double(k))
                    weight += w
                }
            }
        }
        return geometry.point(atIndex: sum / weight)
    }
}

extension ForwardScores: PreparedScoreProvider {
    func scores(preparedK k: Range<Int>) throws -> ScoreSlab { slab(k) }
}
