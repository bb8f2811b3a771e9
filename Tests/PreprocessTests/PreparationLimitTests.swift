import ModelSpec
import Preprocess
import Testing
import Volumes

/// The prepared volume is sized from the model's spacing and the scan's extent: it meets the
/// same voxel limit as every input, before its Float buffer is allocated.
@Suite struct PreparationLimitTests {
    static let scan = Volume<Int16>(geometry: Geometry(size: Extent3(64, 64, 16), spacing: [1, 1, 2]), repeating: 0)

    static func spec(_ spacing: SIMD3<Double>) -> InputPreparation {
        InputPreparation(
            orientation: nil, resample: .spacing(spacing), normalization: .clipScale(min: -200, max: 300), bodyCrop: nil
        )
    }

    @Test func aPreparedGridBeyondTheVoxelLimitIsRefusedBeforeAllocating() throws {
        // 0.02 mm: 3200 × 3200 × 1600 prepared voxels (65 GB of Float).
        #expect {
            try Preparation.prepare(Self.scan, as: Self.spec([0.02, 0.02, 0.02]))
        } throws: { error in
            (error as? PlausibilityError)?.code == .implausibleSize
        }
        // The model's own spacing prepares.
        #expect(try Preparation.prepare(Self.scan, as: Self.spec([2, 2, 4])).volume.size == Extent3(32, 32, 8))
    }
}
