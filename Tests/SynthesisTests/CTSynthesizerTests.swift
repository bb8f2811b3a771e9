import Foundation
import Phantom
import Testing
import Volumes

@testable import Synthesis

/// The synthesizer on a phantom's label map (all 16 WORD organs on a grid the synthesizer has
/// never seen: dcm2niix's LAS order), so the tests need no WORD data.
@Suite struct CTSynthesizerTests {
    static let anatomy = PhantomGenerator.generate(PhantomOptions(seed: 3, matrix: 96, sliceSpacing: 4)).labels
    static let options = SynthesisOptions(
        seed: 5, phase: .portalVenous, fieldOfView: .abdomenPelvis, pixelSpacing: 2,
        sliceSpacing: 5, noiseSigma: 10, randomContrast: false)
    static let scan = try! CTSynthesizer.synthesize(anatomy, anatomy: "phantom-3", options, threads: 2)

    /// Centroid (LPS mm) of the voxels where `keep` holds (the mean index, mapped once: the
    /// grid's affine is linear).
    static func centroid(_ v: Volume<UInt8>, where keep: (Int) -> Bool) -> SIMD3<Double>? {
        var sum = SIMD3<Double>.zero
        var count = 0
        let n = v.size
        for k in 0..<n.k {
            for j in 0..<n.j {
                for i in 0..<n.i where keep(i + n.i * (j + n.j * k)) {
                    sum += SIMD3(Double(i), Double(j), Double(k))
                    count += 1
                }
            }
        }
        return count > 0 ? v.geometry.point(atIndex: sum / Double(count)) : nil
    }

    @Test func sameSeedSameScan() throws {
        let again = try CTSynthesizer.synthesize(Self.anatomy, anatomy: "phantom-3", Self.options, threads: 1)
        // Threads change nothing; compared as Bools (a failure would print both volumes).
        let sameImage = again.image.voxels == Self.scan.image.voxels
        let sameLabels = again.labels.voxels == Self.scan.labels.voxels
        #expect(sameImage)
        #expect(sameLabels)
        var other = Self.options
        other.seed = 6
        let different = try CTSynthesizer.synthesize(Self.anatomy, anatomy: "phantom-3", other, threads: 2)
        let differs = different.image.voxels != Self.scan.image.voxels
        #expect(differs)
    }

    @Test func theOptionsSetTheScannerGrid() {
        let g = Self.scan.image.geometry
        #expect(abs(g.spacing.x - 2) < 1e-9 && abs(g.spacing.z - 5) < 1e-9)
        #expect(Self.scan.labels.geometry == g)
        #expect(Self.scan.parameters.phase == .portalVenous)
    }

    /// The organs survive the deformation with plausible volumes, and nothing mirrors them:
    /// the liver stays on the patient's right (smaller x in LPS) of the spleen.
    @Test func theAnatomyIsKeptNotMirrored() throws {
        let labels = Self.scan.labels
        var counts = [Int](repeating: 0, count: 17)
        for l in labels.voxels { counts[Int(l)] += 1 }
        let ml = labels.geometry.voxelVolumeML
        for organ in [1, 2, 3, 4, 5, 10, 11, 14] { #expect(counts[organ] > 0, "organ \(organ) missing") }
        var source = [Int](repeating: 0, count: 17)
        for l in Self.anatomy.voxels { source[Int(l)] += 1 }
        let liverSource = Double(source[1]) * Self.anatomy.geometry.voxelVolumeML
        // The affine scales each axis by 0.82-1.2 at most: the volume stays within 0.55-1.75×.
        #expect((0.55 * liverSource...1.75 * liverSource).contains(Double(counts[1]) * ml))
        let liver = try #require(Self.centroid(labels) { labels.voxels[$0] == 1 })
        let spleen = try #require(Self.centroid(labels) { labels.voxels[$0] == 2 })
        #expect(liver.x < spleen.x)
    }

    /// The trunk is drawn round the organs: the spine (unlabelled bone) lies between the
    /// kidneys and behind their front; fat and air are where they belong.
    @Test func theSpineLiesBetweenTheKidneys() throws {
        let image = Self.scan.image
        let labels = Self.scan.labels
        let left = try #require(Self.centroid(labels) { labels.voxels[$0] == 3 })
        let right = try #require(Self.centroid(labels) { labels.voxels[$0] == 4 })
        // Bone in the slices of the kidneys, within 60 mm of their midpoint.
        let mid = (left + right) / 2
        let g = image.geometry
        let bone = try #require(
            Self.centroid(labels) { v in
                guard labels.voxels[v] == 0, image.voxels[v] > 250 else { return false }
                let k = v / image.size.sliceCount
                let i = v % image.size.i
                // The synthesizer's grids are LPS-aligned: x from i, z from k.
                let x = g.origin.x + g.spacing.x * Double(i)
                let z = g.origin.z + g.spacing.z * Double(k)
                return abs(z - mid.z) < 20 && abs(x - mid.x) < 60
            })
        #expect(g.direction == .identity)
        #expect(bone.x > right.x && bone.x < left.x)
        #expect(bone.y > mid.y - 30)
        // Air round the body, at the grid's first row and column.
        #expect(image[0, 0, image.size.k / 2] < -800)
    }

    /// The drawn HU: the liver's median lies in the portal-venous range (noise 10 HU).
    /// Real kidneys stand out from the muscles behind them by the fat round them: what lies just
    /// outside a kidney (laterally and behind, 2 mm off, unlabelled) is fat, not muscle.
    @Test func theKidneysLieInFat() throws {
        let image = Self.scan.image
        let labels = Self.scan.labels
        let n = image.size
        let midline = try #require(Self.centroid(labels) { labels.voxels[$0] == 3 || labels.voxels[$0] == 4 }).x
        var outside: [Int16] = []
        for k in 0..<n.k {
            for j in 0..<(n.j - 1) {
                for i in 1..<(n.i - 1) {
                    let v = i + n.i * (j + n.j * k)
                    let l = labels.voxels[v]
                    guard l == 3 || l == 4 else { continue }
                    let x = image.geometry.origin.x + image.geometry.spacing.x * Double(i)
                    let lateral = v + (x > midline ? 1 : -1)
                    for w in [lateral, v + n.i] where labels.voxels[w] == 0 { outside.append(image.voxels[w]) }
                }
            }
        }
        #expect(outside.count > 50)
        let median = outside.sorted()[outside.count / 2]
        #expect(median < -20, "median HU just outside the kidneys: \(median)")
    }

    /// The lower bladder abuts soft tissue (obturator internus, pelvic floor, prostate or uterus),
    /// not fat alone: the median HU just outside it, below the femoral heads' centre, is soft
    /// tissue's (49 HU here; −20 without it, the partial volume of fat at 2 mm pixels).
    @Test func theLowerBladderAbutsSoftTissue() throws {
        let image = Self.scan.image
        let labels = Self.scan.labels
        let n = image.size
        let heads = try #require(Self.centroid(labels) { labels.voxels[$0] == 15 || labels.voxels[$0] == 16 }).z
        var outside: [Int16] = []
        for k in 0..<n.k where image.geometry.point(atIndex: SIMD3(0, 0, Double(k))).z < heads {
            for j in 1..<(n.j - 1) {
                for i in 1..<(n.i - 1) {
                    let v = i + n.i * (j + n.j * k)
                    guard labels.voxels[v] == 14 else { continue }
                    for w in [v - 1, v + 1, v - n.i, v + n.i] where labels.voxels[w] == 0 {
                        outside.append(image.voxels[w])
                    }
                }
            }
        }
        #expect(outside.count > 20)
        let median = outside.sorted()[outside.count / 2]
        #expect(median > 15, "median HU just outside the lower bladder: \(median)")
    }

    /// The chamfer distance out of a label stays within 9 % of the Euclidean one (the 1-√2
    /// chamfer overestimates by up to 8.2 %).
    @Test func inPlaneDistanceFollowsTheEuclideanOne() throws {
        let n = Extent3(40, 30, 1)
        var labels = [UInt8](repeating: 0, count: n.count)
        for j in 10..<16 { for i in 12..<20 { labels[i + n.i * j] = 14 } }
        labels[25 + n.i * 20] = 14
        let field = try #require(
            labels.withUnsafeBufferPointer {
                InPlaneDistance.from(label: 14, slice: 0, labels: $0, size: n, spacing: 0.5, limit: 10)
            })
        for j in 0..<n.j {
            for i in 0..<n.i {
                var best = Double.infinity
                for jj in 0..<n.j {
                    for ii in 0..<n.i where labels[ii + n.i * jj] == 14 {
                        best = min(best, 0.5 * Double((ii - i) * (ii - i) + (jj - j) * (jj - j)).squareRoot())
                    }
                }
                let d = field.distance[i + n.i * j]
                if best <= 10 { #expect(abs(d - best) <= 0.09 * best + 1e-9, "(\(i), \(j)): \(d) against \(best)") }
            }
        }
        #expect(
            InPlaneDistance.from(
                label: 5, slice: 0, labels: labels.withUnsafeBufferPointer { $0 }, size: n, spacing: 0.5, limit: 10)
                == nil)
    }

    /// The body wall stands off the kidneys by the drawn perirenal fat: the layout's envelope
    /// grows by that much where a kidney is the outermost organ, and nowhere shrinks.
    @Test func theEnvelopeTakesInTheKidneysFat() throws {
        let labels = Self.scan.labels
        let lean = try TrunkLayout(labels: labels.voxels, grid: labels.geometry, kidneyFat: 0)
        let fat = try TrunkLayout(labels: labels.voxels, grid: labels.geometry, kidneyFat: 20)
        var grown = 0.0
        var shrunk = 0.0
        for (a, b) in zip(lean.envelope, fat.envelope) {
            for (r0, r1) in zip(a, b) {
                grown = max(grown, r1 - r0)
                shrunk = max(shrunk, r0 - r1)
            }
        }
        #expect(grown > 12, "largest growth \(grown) mm")
        #expect(shrunk < 1e-9)
    }

    /// Randomized contrast frees the soft tissues from the phase (the kidney below the liver,
    /// above it, anywhere in −20…200 HU) and leaves fat and bone alone.
    @Test func randomizedContrastFreesOnlyTheSoftTissues() {
        var below = 0
        var above = 0
        for seed in 0..<200 as Range<UInt64> {
            var rng = SeededGenerator(seed: seed)
            let v = TissueValues(phase: .portalVenous, randomContrast: true, using: &rng)
            #expect(TissueValues.randomizable.allSatisfy { TissueValues.randomContrastHU.contains(Double(v[$0])) })
            #expect(Tissue.visceralFat.ranges[2].contains(Double(v[.visceralFat])))
            #expect(Tissue.corticalBone.ranges[2].contains(Double(v[.corticalBone])))
            if v[.kidneyCortex] < v[.liver] - 30 { below += 1 }
            if v[.kidneyCortex] > v[.liver] + 30 { above += 1 }
        }
        // Portal venous ranges alone never put the cortex 30 HU below the liver.
        #expect(below > 40 && above > 40)
        var rng = SeededGenerator(seed: 1)
        let plain = TissueValues(phase: .portalVenous, using: &rng)
        #expect(Tissue.kidneyCortex.ranges[2].contains(Double(plain[.kidneyCortex])))
    }

    @Test func organsTakeTheirPhasesHU() {
        var liver: [Int16] = []
        for (v, l) in Self.scan.labels.voxels.enumerated() where l == 1 { liver.append(Self.scan.image.voxels[v]) }
        liver.sort()
        let median = Double(liver[liver.count / 2])
        #expect((Tissue.liver.ranges[2].lowerBound - 25...Tissue.liver.ranges[2].upperBound + 25).contains(median))
    }

    /// Seeds below 1000 use the training maps, seeds from 1000 the held-out ones (every sixth).
    @Test func theHeldOutMapsAreNeverTrainingMaps() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("anatomy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(folder)/labelsTs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for n in 0..<12 {
            #expect(
                FileManager.default.createFile(
                    atPath: "\(folder)/labelsTs/word_\(String(format: "%04d", n)).nii.gz", contents: Data()))
        }
        #expect(FileManager.default.createFile(atPath: "\(folder)/README.md", contents: Data()))
        let maps = try AnatomyMaps(folder: folder)
        #expect(maps.names.count == 12)
        #expect(maps.heldOut == ["labelsTs/word_0005.nii.gz", "labelsTs/word_0011.nii.gz"])
        let training = Set((0..<999).map { maps.name(forSeed: UInt64($0)) })
        let heldOut = Set((1000..<1100).map { maps.name(forSeed: UInt64($0)) })
        #expect(training.count == 10 && heldOut == Set(maps.heldOut) && training.isDisjoint(with: heldOut))
    }

    /// A colon is not one content end to end: in most scans its segments hold different
    /// contents (stool, gas over fluid, the scan's drawn content).
    @Test func theColonsSegmentsHoldDifferentContents() {
        let boxes = LabelBoxes(Self.scan.labels)
        let lower = boxes.lower[10]
        let upper = boxes.upper[10]
        var mixed = 0
        for seed in 1...20 as ClosedRange<UInt64> {
            var rng = SeededGenerator(seed: seed)
            let values = TissueValues(phase: .portalVenous, using: &rng)
            let a = OrganAppearance(
                values: values, parameters: Self.scan.parameters, boxes: boxes,
                span: (lower - 10, upper + 10), using: &rng)
            var seen = Set<String>()
            for t in stride(from: 0.0, through: 1.0, by: 0.1) {
                for u in stride(from: 0.0, through: 1.0, by: 0.25) {
                    seen.insert(a.colonContent(at: lower + (upper - lower) * SIMD3(t, u, 1 - t)))
                }
            }
            if seen.count > 1 { mixed += 1 }
        }
        #expect(mixed >= 10, "only \(mixed) of 20 scans have more than one colon content")
    }

    /// A left hip replacement: metal at the scanner's ceiling in and round the left femoral head
    /// only, and streaks that change the slices holding metal but not those far above it.
    @Test func aHipImplantIsMetalWithStreaks() throws {
        var with = Self.options
        var without = Self.options
        with.hipImplants = ["left"]
        without.hipImplants = []
        let a = try CTSynthesizer.synthesize(Self.anatomy, anatomy: "phantom-3", with, threads: 2)
        let b = try CTSynthesizer.synthesize(Self.anatomy, anatomy: "phantom-3", without, threads: 2)
        #expect(a.parameters.hipImplants == ["left"] && b.parameters.hipImplants.isEmpty)
        let metal = Float(HipImplants.metalThreshold)
        #expect(!b.image.voxels.contains { Float($0) > metal })
        let n = a.image.size
        let plane = n.i * n.j
        let left = try #require(Self.centroid(a.labels) { a.labels.voxels[$0] == 15 })
        let right = try #require(Self.centroid(a.labels) { a.labels.voxels[$0] == 16 })
        var metalVoxels = 0
        var inLeftHead = 0
        var wrongSide = 0
        var metalSlices = Set<Int>()
        for v in 0..<a.image.voxels.count where Float(a.image.voxels[v]) > metal {
            metalVoxels += 1
            if a.labels.voxels[v] == 15 { inLeftHead += 1 }
            let p = a.image.geometry.point(atIndex: SIMD3(Double(v % n.i), Double(v / n.i % n.j), Double(v / plane)))
            if p.x < (left.x + right.x) / 2 { wrongSide += 1 }
            metalSlices.insert(v / plane)
        }
        #expect(
            metalVoxels > 50 && inLeftHead > 10 && wrongSide == 0,
            "\(metalVoxels) metal voxels, \(inLeftHead) in the head, \(wrongSide) on the right")
        // Streaks: a mean change of tens of HU on the metal's slices, none 120 mm above the head.
        var change = 0.0
        var count = 0
        for k in metalSlices {
            for v in k * plane..<(k + 1) * plane where Float(a.image.voxels[v]) <= metal && a.image.voxels[v] > -900 {
                change += abs(Double(a.image.voxels[v]) - Double(b.image.voxels[v]))
                count += 1
            }
        }
        #expect(change / Double(max(count, 1)) > 5, "mean streak change \(change / Double(max(count, 1))) HU")
        let far = Int(((left.z + 120) - a.image.geometry.origin.z) / a.image.geometry.spacing.z)
        if far >= 0 && far < n.k {
            let same =
                a.image.voxels[far * plane..<(far + 1) * plane] == b.image.voxels[far * plane..<(far + 1) * plane]
            #expect(same)
        }
    }

    /// `randomContrastShare` decides only how many seeds draw randomized contrast: every other
    /// parameter of a seed stays as it was, and nil is the shipped 0.25.
    @Test func theRandomContrastShareChangesOnlyThatDraw() {
        func draw(_ seed: UInt64, _ share: Double?) -> SynthesisParameters {
            var rng = SeededGenerator(seed: seed &* 0x2545_F491_4F6C_DD1D)
            return SynthesisParameters.draw(
                SynthesisOptions(seed: seed, randomContrastShare: share), anatomy: "a", using: &rng)
        }
        let seeds = UInt64(1)...200
        #expect(seeds.allSatisfy { draw($0, 1).randomContrast } && !seeds.contains { draw($0, 0).randomContrast })
        #expect(seeds.allSatisfy { draw($0, nil) == draw($0, 0.25) })
        for seed in seeds {
            var a = draw(seed, 0.6)
            var b = draw(seed, nil)
            (a.randomContrast, b.randomContrast) = (false, false)
            #expect(a == b)
        }
        let share = Double(seeds.count { draw($0, 0.6).randomContrast }) / Double(seeds.count)
        #expect(abs(share - 0.6) < 0.1, "\(share)")
    }
}
