import Foundation
import Testing
import Volumes

@testable import Training

/// Training windows lie inside the volume, as inference's do: a window drawn around an organ at
/// the volume's edge is shifted inward, never padded, unless the volume is shorter than the window.
@Suite struct PatchSamplerTests {
    /// Intensity = 1 + voxel index (so a patch shows where it came from), an organ in one corner.
    static func volume(_ size: Extent3) -> TrainingVolume {
        let image = (0..<size.count).map { Float(1 + $0) }
        var labels = [UInt8](repeating: 0, count: size.count)
        for k in 0..<3 { for j in 0..<3 { for i in 0..<3 { labels[i + size.i * (j + size.j * k)] = 15 } } }
        return TrainingVolume(size: size, image: image, labels: labels, classCount: 17)
    }

    /// The patch's voxels, checked to be one contiguous box of the volume; returns its origin (i, j, k).
    static func origin(of patch: PatchSampler.Patch, in v: TrainingVolume, window: [Int]) -> (Int, Int, Int)? {
        let first = Int(patch.image[0]) - 1
        let o = (first % v.size.i, (first / v.size.i) % v.size.j, first / v.size.sliceCount)
        for z in 0..<window[0] {
            for y in 0..<window[1] {
                for x in 0..<window[2] {
                    let expected = Float(1 + (o.0 + x) + v.size.i * ((o.1 + y) + v.size.j * (o.2 + z)))
                    if patch.image[(z * window[1] + y) * window[2] + x] != expected { return nil }
                }
            }
        }
        return o
    }

    @Test func windowsStayInsideTheVolume() {
        let v = Self.volume(Extent3(40, 36, 24))
        let window = [16, 32, 32]
        var sampler = PatchSampler(volumes: [v], window: window, seed: 3)
        var corner = 0
        for _ in 0..<300 {
            let p = sampler.next()
            let o = Self.origin(of: p, in: v, window: window)
            #expect(o != nil, "a patch left the volume or was padded")
            if let o, o.0 == 0, o.1 == 0, o.2 == 0 { corner += 1 }
        }
        // Windows around the corner organ are pushed to the corner, not padded past it.
        #expect(corner > 50, "only \(corner) windows at the corner")
    }

    @Test func aVolumeShorterThanTheWindowIsPaddedOnlyWhereItIsShort() {
        let v = Self.volume(Extent3(40, 36, 10))
        let window = [16, 32, 32]
        var sampler = PatchSampler(volumes: [v], window: window, seed: 4)
        for _ in 0..<50 {
            let p = sampler.next()
            // Slices 0..<10 come from the volume, starting at its first slice; the rest is padding.
            let inside = PatchSampler.Patch(image: Array(p.image[0..<(10 * 32 * 32)]), labels: [])
            let o = Self.origin(of: inside, in: v, window: [10, 32, 32])
            #expect(o?.2 == 0)
            #expect(p.image[(10 * 32 * 32)...].allSatisfy { $0 == v.minimum })
        }
    }
}
