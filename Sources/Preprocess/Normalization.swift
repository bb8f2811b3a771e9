import ModelSpec
import Volumes

/// Intensity normalization in place on the prepared grid (no extra copy).
public enum Normalizer {
    /// What was applied: `value = (hu − shift) / divisor`, and for the clipping modes the HU clip.
    public struct Applied: Sendable, Equatable, Codable {
        public var shift: Double
        public var divisor: Double
        public var clipHU: [Double]?
        /// The lowest normalized value on the prepared grid: what windows are padded with
        /// beyond its edges (measured in the normalizing pass, so no extra pass is needed).
        public var minimum: Float
    }

    /// z-score uses the mean and population standard deviation over every voxel of `volume`
    /// (the prepared grid: the body box when cropped), as PyMIC's NormalizeWithMeanStd does
    /// without a mask; clip-scale maps [min, max] HU onto [0, 1].
    @discardableResult
    public static func normalize(
        _ volume: inout Volume<Float>, _ mode: InputPreparation.Normalization, threads: Int = 1
    ) -> Applied {
        let count = volume.voxels.count
        guard count > 0 else { return Applied(shift: 0, divisor: 1, clipHU: nil, minimum: 0) }
        let slabs = Parallel.chunks(count, grain: 1 << 18)
        switch mode {
        case .zScore:
            // Per-slab sums in Double, combined in order, so the result does not depend on threads.
            var sums = [(Double, Double)](repeating: (0, 0), count: slabs.count)
            volume.voxels.withUnsafeBufferPointer { v in
                sums.withUnsafeMutableBufferPointer { out in
                    let out = out
                    Parallel.forEach(slabs.count, threads: threads) { s in
                        var sum = 0.0
                        for n in slabs[s] { sum += Double(v[n]) }
                        out[s].0 = sum
                    }
                }
            }
            let mean = sums.reduce(0) { $0 + $1.0 } / Double(count)
            volume.voxels.withUnsafeBufferPointer { v in
                sums.withUnsafeMutableBufferPointer { out in
                    let out = out
                    Parallel.forEach(slabs.count, threads: threads) { s in
                        var squares = 0.0
                        for n in slabs[s] {
                            let d = Double(v[n]) - mean
                            squares += d * d
                        }
                        out[s].1 = squares
                    }
                }
            }
            let std = (sums.reduce(0) { $0 + $1.1 } / Double(count)).squareRoot()
            let divisor = std > 1e-6 ? std : 1
            let minimum = apply(&volume, slabs: slabs, threads: threads) { (Float(Double($0) - mean) / Float(divisor)) }
            return Applied(shift: mean, divisor: divisor, clipHU: nil, minimum: minimum)
        case .clipScale(let lo, let hi):
            let low = Float(lo)
            let high = Float(hi)
            let width = Float(hi - lo)
            let minimum = apply(&volume, slabs: slabs, threads: threads) { (min(max($0, low), high) - low) / width }
            return Applied(shift: lo, divisor: hi - lo, clipHU: [lo, hi], minimum: minimum)
        case .clipZScore(let lo, let hi, let mean, let sd):
            let low = Float(lo)
            let high = Float(hi)
            let shift = Float(mean)
            let divisor = Float(sd)
            let minimum = apply(&volume, slabs: slabs, threads: threads) { (min(max($0, low), high) - shift) / divisor }
            return Applied(shift: mean, divisor: sd, clipHU: [lo, hi], minimum: minimum)
        }
    }

    /// Applies `f` to every voxel and returns the lowest result.
    private static func apply(_ volume: inout Volume<Float>, slabs: [Range<Int>], threads: Int, _ f: (Float) -> Float)
        -> Float
    {
        var minima = [Float](repeating: .infinity, count: slabs.count)
        volume.voxels.withUnsafeMutableBufferPointer { v in
            minima.withUnsafeMutableBufferPointer { out in
                let v = v
                let out = out
                Parallel.forEach(slabs.count, threads: threads) { s in
                    var low = Float.infinity
                    for n in slabs[s] {
                        let value = f(v[n])
                        v[n] = value
                        low = min(low, value)
                    }
                    out[s] = low
                }
            }
        }
        return minima.min() ?? 0
    }
}
