import Foundation
import Testing
import Volumes

@testable import Training

/// nnU-Net's spatial augmentation of a dataset case's patches: the identity copies voxels
/// exactly, a mirror swaps left and right organs, a quarter turn moves voxels where it should,
/// and gamma keeps the patch's mean and spread.
@Suite struct CaseAugmentationTests {
    /// 20×16×12 voxels, intensity = i + 100 j + 10000 k; a "left kidney" (3) block at low i and
    /// a "right kidney" (4) block at high i (i runs towards the patient's left in LPS: the
    /// labels here only need to differ by side).
    static let volume: TrainingVolume = {
        let size = Extent3(20, 16, 12)
        var image = [Float]()
        var labels = [UInt8]()
        for k in 0..<size.k {
            for j in 0..<size.j {
                for i in 0..<size.i {
                    image.append(Float(i + 100 * j + 10_000 * k))
                    labels.append(i < 5 && (4..<8).contains(j) ? 3 : i >= 15 && (4..<8).contains(j) ? 4 : 0)
                }
            }
        }
        return TrainingVolume(size: size, image: image, labels: labels, classCount: 17)
    }()
    static let window = [12, 16, 20]
    static let centre = SIMD3<Double>(9.5, 7.5, 5.5)

    static func none() -> CaseAugmentation {
        var a = CaseAugmentation()
        (a.rotation, a.scaling, a.elastic, a.gamma, a.mirror) = (0, 0, 0, 0, 0)
        return a
    }

    @Test func withoutAugmentationThePatchIsTheVolume() {
        var rng = SplitMix(seed: 1)
        let (image, labels) = Self.none().patch(
            of: Self.volume, centre: Self.centre, window: Self.window, leftRightAxis: 0, rng: &rng)
        #expect(image == Self.volume.image)
        #expect(labels == Self.volume.labels)
    }

    @Test func mirroringIsOffUnlessAsked() {
        #expect(CaseAugmentation().mirror == 0)
    }

    @Test func aMirrorSwapsLeftAndRightOrgans() {
        var a = Self.none()
        a.mirror = 1
        var rng = SplitMix(seed: 2)
        let (image, labels) = a.patch(
            of: Self.volume, centre: Self.centre, window: Self.window, leftRightAxis: 0, rng: &rng)
        let size = Self.volume.size
        for k in 0..<size.k {
            for j in 0..<size.j {
                for i in 0..<size.i {
                    let n = i + size.i * (j + size.j * k)
                    let source = (size.i - 1 - i) + size.i * (j + size.j * k)
                    #expect(image[n] == Self.volume.image[source])
                    let original = Self.volume.labels[source]
                    #expect(labels[n] == (original == 3 ? 4 : original == 4 ? 3 : original))
                }
            }
        }
        // The kidney now at low i came from high i (4) and is called 3, as the kidney on that side was.
        #expect(labels[0 + size.i * 5] == 3 && Self.volume.labels[19 + size.i * 5] == 4)
        #expect(CaseAugmentation().swapped[15] == 16 && CaseAugmentation().swapped[1] == 1)
    }

    @Test func aQuarterTurnMovesVoxelsWhereItShould() {
        // A square patch turned 90° about the slice axis: patch (x, y) reads volume (c − y', c + x').
        let size = Extent3(16, 16, 4)
        let image = (0..<size.count).map { Float($0) }
        let volume = TrainingVolume(
            size: size, image: image, labels: [UInt8](repeating: 0, count: size.count), classCount: 17)
        var a = Self.none()
        (a.rotation, a.maxRotationDegrees) = (1, 90)
        // Draws of exactly ±90° are not forced by the rng: check the transform itself instead.
        let m = Matrix3.rotation(about: 2, degrees: 90)
        let moved = m * SIMD3<Double>(1, 0, 0)
        #expect(abs(moved.x) < 1e-12 && abs(moved.y - 1) < 1e-12)
        var rng = SplitMix(seed: 3)
        let (out, _) = a.patch(
            of: volume, centre: SIMD3(7.5, 7.5, 1.5), window: [4, 16, 16], leftRightAxis: nil, rng: &rng)
        #expect(out.count == size.count && out != image)
    }

    @Test func gammaKeepsTheMeanAndSpread() {
        var a = Self.none()
        a.gamma = 1
        var rng = SplitMix(seed: 4)
        let (image, _) = a.patch(
            of: Self.volume, centre: Self.centre, window: Self.window, leftRightAxis: nil, rng: &rng)
        func moments(_ x: [Float]) -> (Double, Double) {
            let m = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
            return (m, (x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(x.count)).squareRoot())
        }
        let (m0, s0) = moments(Self.volume.image)
        let (m1, s1) = moments(image)
        #expect(abs(m1 - m0) < 1e-3 * s0 && abs(s1 - s0) < 1e-3 * s0)
        #expect(image != Self.volume.image)
    }
}
