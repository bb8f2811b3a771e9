import ModelSpec
import Testing

@testable import Training

/// The intensity augmentation: a blur that keeps what is flat and spreads a point as a
/// normalised Gaussian, values kept in the clip-scale range, the same window for the same seed.
@Suite struct IntensityAugmentationTests {
    @Test func blurSpreadsAPointAsANormalisedGaussian() {
        let (d, h, w) = (9, 15, 15)
        var image = [Float](repeating: 0, count: d * h * w)
        let centre = (4 * h + 7) * w + 7
        image[centre] = 1
        IntensityAugmentation.blur(&image, d, h, w, sigma: (0.5, 1.0, 1.0))
        #expect(abs(image.reduce(0, +) - 1) < 1e-4)
        // In-plane neighbours at one voxel: exp(−1/2) of the centre along each in-plane axis.
        #expect(abs(image[centre + 1] / image[centre] - 0.6065) < 0.01)
        #expect(abs(image[centre + w] / image[centre] - 0.6065) < 0.01)
        // Along z, σ = 0.5: exp(−2).
        #expect(abs(image[centre + h * w] / image[centre] - 0.1353) < 0.005)
        var flat = [Float](repeating: 0.3, count: d * h * w)
        IntensityAugmentation.blur(&flat, d, h, w, sigma: (0.5, 1.0, 1.0))
        #expect(flat.allSatisfy { abs($0 - 0.3) < 1e-5 })
    }

    @Test func windowsStayInRangeAndFollowTheSeed() throws {
        let augmentation = try #require(IntensityAugmentation(.lcovnetDefault))
        #expect(
            IntensityAugmentation(
                InputPreparation(
                    orientation: nil, resample: .fixedShape(i: 64, j: 64, k: 32), normalization: .zScore, bodyCrop: nil)
            ) == nil)
        let (d, h, w) = (8, 16, 16)
        let original = (0..<(d * h * w)).map { Float(($0 * 7919) % 1000) / 999 }
        var changed = 0
        for seed in 0..<20 as Range<UInt64> {
            var a = original
            var b = original
            var r1 = SplitMix(seed: seed)
            var r2 = SplitMix(seed: seed)
            augmentation.apply(&a, depth: d, height: h, width: w, rng: &r1)
            augmentation.apply(&b, depth: d, height: h, width: w, rng: &r2)
            #expect(a == b)
            #expect(a.allSatisfy { (0...1).contains($0) })
            if a != original { changed += 1 }
        }
        // Each of four changes is drawn with probability 0.3-0.5: nearly every window changes.
        #expect(changed >= 15)
    }
}
