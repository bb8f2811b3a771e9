import Volumes

/// Trilinear sampling of a volume on a grid derived from it by an `AxisAlignedMap`
/// (reorientation, crop and rescale in one pass, with no intermediate copy).
///
/// Positions outside the source are clamped to its border (PyTorch's and scipy's `nearest`
/// edge). Where the map lands on whole source indices (reorientation, crop) the values are
/// copied exactly. Memory: the output (4 bytes per output voxel) plus per-axis tables.
public enum Resampler {
    public static func resample<Voxel: SampledVoxel>(
        _ source: Volume<Voxel>, map: AxisAlignedMap, size: Extent3, threads: Int = 1
    ) -> Volume<Float> {
        let geometry = map.derivedGeometry(source: source.geometry, size: size)
        guard size.count > 0 else { return Volume(geometry: geometry, voxels: []) }
        let tables = (0..<3).map { AxisTaps(map: map, axis: $0, count: size[$0], source: source.geometry.size) }
        let voxels = [Float](unsafeUninitializedCapacity: size.count) { buffer, initialized in
            source.voxels.withUnsafeBufferPointer { src in
                let dst = buffer.baseAddress!
                let (ti, tj, tk) = (tables[0], tables[1], tables[2])
                Parallel.forEach(size.k, threads: threads) { k in
                    let k0 = tk.lower[k]
                    let k1 = tk.upper[k]
                    let wk = tk.weight[k]
                    for j in 0..<size.j {
                        let j0 = tj.lower[j]
                        let j1 = tj.upper[j]
                        let wj = tj.weight[j]
                        let b00 = j0 + k0
                        let b10 = j1 + k0
                        let b01 = j0 + k1
                        let b11 = j1 + k1
                        let w00 = (1 - wj) * (1 - wk)
                        let w10 = wj * (1 - wk)
                        let w01 = (1 - wj) * wk
                        let w11 = wj * wk
                        let row = dst + size.i * (j + size.j * k)
                        for i in 0..<size.i {
                            let i0 = ti.lower[i]
                            let i1 = ti.upper[i]
                            let wi = ti.weight[i]
                            let lo =
                                w00 * src[b00 + i0].sampleValue + w10 * src[b10 + i0].sampleValue
                                + w01 * src[b01 + i0].sampleValue + w11 * src[b11 + i0].sampleValue
                            let hi =
                                w00 * src[b00 + i1].sampleValue + w10 * src[b10 + i1].sampleValue
                                + w01 * src[b01 + i1].sampleValue + w11 * src[b11 + i1].sampleValue
                            (row + i).initialize(to: wi == 0 ? lo : (1 - wi) * lo + wi * hi)
                        }
                    }
                }
            }
            initialized = size.count
        }
        return Volume(geometry: geometry, voxels: voxels)
    }
}

/// For each index along one derived axis: the two source voxels it lies between, as linear
/// offsets along the source axis it reads, and the weight of the upper one.
struct AxisTaps {
    var lower: [Int]
    var upper: [Int]
    var weight: [Float]

    init(map: AxisAlignedMap, axis a: Int, count: Int, source: Extent3) {
        let p = map.sourceAxis[a]
        let n = source[p]
        let stride = p == 0 ? 1 : p == 1 ? source.i : source.sliceCount
        lower = []
        upper = []
        weight = []
        lower.reserveCapacity(count)
        upper.reserveCapacity(count)
        weight.reserveCapacity(count)
        for o in 0..<count {
            let x = min(max(map.scale[a] * Double(o) + map.offset[a], 0), Double(n - 1))
            var i0 = Int(x.rounded(.down))
            var w = x - Double(i0)
            // Whole indices within rounding error are copied exactly.
            if w < 1e-9 {
                w = 0
            } else if w > 1 - 1e-9 {
                i0 += 1
                w = 0
            }
            i0 = min(i0, n - 1)
            lower.append(i0 * stride)
            upper.append(min(i0 + 1, n - 1) * stride)
            weight.append(Float(w))
        }
    }
}
