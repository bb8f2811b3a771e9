import Foundation
import Volumes

/// nnU-Net v1's image resampling (`resample_patient` → `resample_data_or_seg`, order 3, order_z 0),
/// so a checkpoint trained by nnU-Net v1 sees its input prepared as it was in training.
///
/// Each axis is resampled on its own (a cubic B-spline is a tensor product, so this equals
/// skimage's 2D/3D `resize` up to rounding): the line is extended by 12 edge copies and
/// prefiltered (scipy's `zoom` with mode `nearest`), then sampled at `(o + 0.5) · n/m − 0.5`
/// (`grid_mode=True`). Along the anisotropic axis, if there is one, nnU-Net uses nearest neighbour
/// (`map_coordinates`, order 0) after the in-plane passes; each in-plane slice is clipped to
/// its input's range (skimage's `clip=True`), or the whole volume to the input's range when no
/// axis is separate. Memory: the output of each pass (4 bytes per voxel), one at a time.
public enum NNUNetV1Resampler {
    /// The axis nnU-Net resamples by nearest neighbour (`get_do_separate_z` on the scan's spacing,
    /// else the target's, and `get_lowres_axis` naming exactly one axis), or nil for cubic throughout.
    public static func separateAxis(source: SIMD3<Double>, target: SIMD3<Double>, threshold: Double) -> Int? {
        func anisotropic(_ s: SIMD3<Double>) -> Bool { s.max() / s.min() > threshold }
        func lowResolutionAxes(_ s: SIMD3<Double>) -> [Int] { (0..<3).filter { s.max() / s[$0] == 1 } }
        let axes =
            anisotropic(source) ? lowResolutionAxes(source) : anisotropic(target) ? lowResolutionAxes(target) : []
        return axes.count == 1 ? axes[0] : nil
    }

    /// `source` cropped to `crop`, resampled to `size` voxels (nnU-Net's shape for the target spacing).
    public static func resample<Voxel: SampledVoxel>(
        _ scan: Volume<Voxel>, crop: CropBox, size: Extent3,
        separateAxis: Int?, threads: Int = 1
    ) -> [Float] {
        let inPlane = (0..<3).filter { $0 != separateAxis }
        var box = Box(size: crop.size)
        // The first pass reads the scan inside the crop; later passes read the previous output.
        var data = scan.voxels.withUnsafeBufferPointer { src in
            Box.pass(
                from: src, full: scan.geometry.size, lower: crop.lower, box: box, axis: inPlane[0],
                to: size[inPlane[0]], kind: .cubic, threads: threads)
        }
        box.size = box.size.replacing(inPlane[0], with: size[inPlane[0]])
        for axis in inPlane.dropFirst() {
            data = data.withUnsafeBufferPointer { src in
                Box.pass(
                    from: src, full: box.size, lower: [0, 0, 0], box: box, axis: axis, to: size[axis], kind: .cubic,
                    threads: threads)
            }
            box.size = box.size.replacing(axis, with: size[axis])
        }
        let ranges = scan.voxels.withUnsafeBufferPointer { src in
            inputRanges(src, full: scan.geometry.size, crop: crop, per: separateAxis)
        }
        clip(&data, size: box.size, ranges: ranges, per: separateAxis)
        if let axis = separateAxis, size[axis] != box.size[axis] {
            data = data.withUnsafeBufferPointer { src in
                Box.pass(
                    from: src, full: box.size, lower: [0, 0, 0], box: box, axis: axis, to: size[axis], kind: .nearest,
                    threads: threads)
            }
        }
        return data
    }

    /// The input's value range per slice along `axis` (the whole crop when nil).
    private static func inputRanges<Voxel: SampledVoxel>(
        _ src: UnsafeBufferPointer<Voxel>, full: Extent3, crop: CropBox, per axis: Int?
    ) -> [(Float, Float)] {
        var ranges = [(Float, Float)](repeating: (.infinity, -.infinity), count: axis.map { crop.size[$0] } ?? 1)
        for k in crop.lower[2]..<crop.upper[2] {
            for j in crop.lower[1]..<crop.upper[1] {
                let row = full.i * (j + full.j * k)
                let rowSlice = axis == 1 ? j - crop.lower[1] : axis == 2 ? k - crop.lower[2] : 0
                for i in crop.lower[0]..<crop.upper[0] {
                    let v = src[row + i].sampleValue
                    let s = axis == 0 ? i - crop.lower[0] : rowSlice
                    ranges[s] = (min(ranges[s].0, v), max(ranges[s].1, v))
                }
            }
        }
        return ranges
    }

    private static func clip(_ data: inout [Float], size: Extent3, ranges: [(Float, Float)], per axis: Int?) {
        for k in 0..<size.k {
            for j in 0..<size.j {
                let row = size.i * (j + size.j * k)
                let rowSlice = axis == 1 ? j : axis == 2 ? k : 0
                for i in 0..<size.i {
                    let (lo, hi) = ranges[axis == 0 ? i : rowSlice]
                    data[row + i] = min(max(data[row + i], lo), hi)
                }
            }
        }
    }

    /// A box of voxels being resampled one axis at a time.
    struct Box {
        var size: Extent3

        enum Kind { case cubic, nearest }

        /// Resamples every line of `box` (inside `full` at `lower`) along `axis` to `m` samples.
        static func pass<Voxel: SampledVoxel>(
            from src: UnsafeBufferPointer<Voxel>, full: Extent3, lower: [Int], box: Box, axis: Int, to m: Int,
            kind: Kind, threads: Int
        ) -> [Float] {
            let n = box.size[axis]
            let out = box.size.replacing(axis, with: m)
            let sourceStrides = [1, full.i, full.i * full.j]
            let outStrides = [1, out.i, out.i * out.j]
            let (sourceStride, outStride) = (sourceStrides[axis], outStrides[axis])
            let first = lower[0] + full.i * (lower[1] + full.j * lower[2])
            let taps = kind == .cubic ? CubicTaps(n: n, m: m) : nil
            // map_coordinates, order 0: floor(c + 0.5), the edge beyond the ends.
            let nearest =
                kind == .nearest
                ? (0..<m).map { q in
                    min(max(Int((Double(n) / Double(m) * (Double(q) + 0.5)).rounded(.down)), 0), n - 1)
                } : []
            // Lines are indexed by the two other axes; the outer one is split across threads.
            let others = (0..<3).filter { $0 != axis }
            let (inner, outer) = (others[0], others[1])
            return [Float](unsafeUninitializedCapacity: out.count) { buffer, initialized in
                let dst = buffer.baseAddress!
                Parallel.forEach(box.size[outer], threads: threads) { o in
                    var line = [Double](repeating: 0, count: n + 2 * CubicTaps.padding)
                    for p in 0..<box.size[inner] {
                        let sourceStart = first + p * sourceStrides[inner] + o * sourceStrides[outer]
                        let outStart = p * outStrides[inner] + o * outStrides[outer]
                        if let taps {
                            for x in 0..<n {
                                line[CubicTaps.padding + x] = Double(src[sourceStart + x * sourceStride].sampleValue)
                            }
                            taps.interpolate(&line, n: n) { q, value in
                                (dst + outStart + q * outStride).initialize(to: Float(value))
                            }
                        } else {
                            for (q, x) in nearest.enumerated() {
                                (dst + outStart + q * outStride).initialize(
                                    to: src[sourceStart + x * sourceStride].sampleValue)
                            }
                        }
                    }
                }
                initialized = out.count
            }
        }
    }
}

/// Cubic B-spline resampling of one line of `n` samples to `m`, as scipy's `zoom` (order 3,
/// mode `nearest`, `grid_mode=True`): the line padded with 12 edge copies each side, turned into
/// B-spline coefficients by the recursive filter with pole √3 − 2 (Unser, IEEE Signal Processing
/// Magazine 16(6), 1999), then weighted over the 4 coefficients around each sample position.
struct CubicTaps {
    static let padding = 12
    static let pole = 3.0.squareRoot() - 2
    /// First coefficient (in the padded line) and the 4 weights of each output sample.
    let first: [Int]
    let weights: [SIMD4<Double>]

    init(n: Int, m: Int) {
        let scale = Double(n) / Double(m)
        let last = n + 2 * Self.padding - 1
        var first = [Int]()
        var weights = [SIMD4<Double>]()
        for q in 0..<m {
            let c = (Double(q) + 0.5) * scale - 0.5 + Double(Self.padding)
            let f = c.rounded(.down)
            let t = c - f
            let u = 1 - t
            first.append(min(max(Int(f) - 1, 0), last - 3))
            weights.append(
                SIMD4(
                    u * u * u / 6, (4 - 6 * t * t + 3 * t * t * t) / 6,
                    (1 + 3 * t + 3 * t * t - 3 * t * t * t) / 6, t * t * t / 6))
        }
        self.first = first
        self.weights = weights
    }

    /// `line[padding ..< padding + n]` holds the samples; the rest is overwritten.
    func interpolate(_ line: inout [Double], n: Int, _ emit: (Int, Double) -> Void) {
        let p = Self.padding
        let count = n + 2 * p
        for x in 0..<p {
            line[x] = line[p]
            line[p + n + x] = line[p + n - 1]
        }
        Self.prefilter(&line, count: count)
        for (q, (f, w)) in zip(first, weights).enumerated() {
            emit(q, w[0] * line[f] + w[1] * line[f + 1] + w[2] * line[f + 2] + w[3] * line[f + 3])
        }
    }

    /// Samples → cubic B-spline coefficients in place (gain 6, causal then anticausal pass; the
    /// ends initialised for a half-sample symmetric extension, whose effect the 12 padded
    /// samples damp below |pole|¹² ≈ 1.4e-7).
    static func prefilter(_ c: inout [Double], count n: Int) {
        guard n > 1 else { return }
        let z = pole
        for i in 0..<n { c[i] *= 6 }
        let zn = pow(z, Double(n))
        let c0 = c[0]
        var sum = c[0] + zn * c[n - 1]
        var zi = z
        for i in 1..<n {
            sum += zi * (c[i] + zn * c[n - 1 - i])
            zi *= z
        }
        c[0] = c0 + sum * z / (1 - zn * zn)
        for i in 1..<n { c[i] += z * c[i - 1] }
        c[n - 1] *= z / (z - 1)
        for i in stride(from: n - 2, through: 0, by: -1) { c[i] = z * (c[i + 1] - c[i]) }
    }
}

extension Extent3 {
    func replacing(_ axis: Int, with n: Int) -> Extent3 {
        Extent3(axis == 0 ? n : i, axis == 1 ? n : j, axis == 2 ? n : k)
    }
}
