import ModelSpec
import Volumes

/// Finds the body: voxels above a HU threshold, the largest 6-connected component of them,
/// its bounding box and a margin in mm.
///
/// The component search runs on a coarse grid of blocks of about 4 mm (a block is body when
/// more than half its voxels pass the threshold), so it needs memory for the coarse grid only
/// (about 1/64 000 of the scan's voxels at 1 mm, 5 bytes each) and never a full-size mask; the
/// box is then the union of the component's blocks in scan voxels, grown by one block (for
/// edge blocks that were less than half body) and the margin.
public enum BodyCrop {
    public static let blockMM = 4.0

    /// The box to keep, in voxel indices of `volume`; the whole volume when nothing passes
    /// the threshold.
    public static func box(of volume: Volume<Int16>, _ crop: InputPreparation.BodyCrop, threads: Int = 1) -> CropBox {
        let size = volume.geometry.size
        guard size.count > 0 else { return CropBox(whole: size) }
        let spacing = volume.geometry.spacing
        let block = (0..<3).map { max(1, Int((blockMM / spacing[$0]).rounded())) }
        let coarse = (0..<3).map { (size[$0] + block[$0] - 1) / block[$0] }
        let threshold = Int16(clamping: Int(crop.thresholdHU.rounded(.down)))
        let mask = coarseMask(volume, block: block, coarse: coarse, threshold: threshold, threads: threads)

        guard let cells = largestComponentBox(mask, coarse) else { return CropBox(whole: size) }
        var lower = [0, 0, 0]
        var upper = [0, 0, 0]
        for a in 0..<3 {
            // One more block each side: edge blocks less than half body were not counted.
            let margin = Int((crop.marginMM / spacing[a]).rounded(.up)) + block[a]
            lower[a] = max(0, cells.lower[a] * block[a] - margin)
            upper[a] = min(size[a], cells.upper[a] * block[a] + margin)
        }
        return CropBox(lower: lower, upper: upper)
    }

    /// 1 for a block where more than half the voxels exceed the threshold; one coarse plane
    /// per task, so threads never share a block.
    static func coarseMask(_ volume: Volume<Int16>, block: [Int], coarse: [Int], threshold: Int16, threads: Int)
        -> [UInt8]
    {
        let size = volume.geometry.size
        var mask = [UInt8](repeating: 0, count: coarse[0] * coarse[1] * coarse[2])
        volume.voxels.withUnsafeBufferPointer { src in
            mask.withUnsafeMutableBufferPointer { out in
                let out = out
                Parallel.forEach(coarse[2], threads: threads) { ck in
                    let kRange = (ck * block[2])..<min(size.k, (ck + 1) * block[2])
                    let plane = coarse[0] * coarse[1] * ck
                    for cj in 0..<coarse[1] {
                        let jRange = (cj * block[1])..<min(size.j, (cj + 1) * block[1])
                        for ci in 0..<coarse[0] {
                            let iRange = (ci * block[0])..<min(size.i, (ci + 1) * block[0])
                            var count = 0
                            for k in kRange {
                                for j in jRange {
                                    let row = size.i * (j + size.j * k)
                                    for i in iRange where src[row + i] > threshold { count += 1 }
                                }
                            }
                            if count * 2 > kRange.count * jRange.count * iRange.count {
                                out[plane + ci + coarse[0] * cj] = 1
                            }
                        }
                    }
                }
            }
        }
        return mask
    }

    /// Bounding box (in coarse cells) of the largest 6-connected component of `mask`.
    static func largestComponentBox(_ mask: [UInt8], _ n: [Int]) -> CropBox? {
        var visited = [Bool](repeating: false, count: mask.count)
        var best: (count: Int, box: CropBox)?
        var queue = [Int]()
        for seed in mask.indices where mask[seed] != 0 && !visited[seed] {
            visited[seed] = true
            queue.removeAll(keepingCapacity: true)
            queue.append(seed)
            var head = 0
            var lo = [Int.max, Int.max, Int.max]
            var hi = [0, 0, 0]
            while head < queue.count {
                let v = queue[head]
                head += 1
                let i = v % n[0]
                let j = (v / n[0]) % n[1]
                let k = v / (n[0] * n[1])
                for (a, x) in [i, j, k].enumerated() {
                    lo[a] = min(lo[a], x)
                    hi[a] = max(hi[a], x + 1)
                }
                for (d, ok) in [
                    (-1, i > 0), (1, i < n[0] - 1), (-n[0], j > 0), (n[0], j < n[1] - 1),
                    (-n[0] * n[1], k > 0), (n[0] * n[1], k < n[2] - 1)
                ] where ok {
                    let w = v + d
                    if mask[w] != 0 && !visited[w] {
                        visited[w] = true
                        queue.append(w)
                    }
                }
            }
            if queue.count > (best?.count ?? 0) { best = (queue.count, CropBox(lower: lo, upper: hi)) }
        }
        return best?.box
    }
}
