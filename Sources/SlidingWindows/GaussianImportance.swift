import Volumes

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Per-voxel weights of a window's predictions: a Gaussian centred on the window with sigma
/// = size / 8 per axis (nnU-Net's choice), scaled to a maximum of 1, and kept above a floor
/// so that edge voxels still count where only one window covers them.
public struct GaussianImportance: Sendable {
    public let windowSize: Extent3
    /// Weights in window voxel order (i fastest), `windowSize.count` of them.
    public let weights: [Float]

    public init(windowSize: Extent3, sigmaScale: Double = 1.0 / 8, floor: Float = 1e-3) {
        self.windowSize = windowSize
        func axis(_ n: Int) -> [Double] {
            let centre = Double(n - 1) / 2
            let sigma = max(Double(n) * sigmaScale, 1e-6)
            return (0..<n).map { exp(-pow(Double($0) - centre, 2) / (2 * sigma * sigma)) }
        }
        let wi = axis(windowSize.i)
        let wj = axis(windowSize.j)
        let wk = axis(windowSize.k)
        let peak = wi.max()! * wj.max()! * wk.max()!
        var w = [Float](repeating: 0, count: windowSize.count)
        var n = 0
        for k in 0..<windowSize.k {
            for j in 0..<windowSize.j {
                for i in 0..<windowSize.i {
                    w[n] = max(Float(wi[i] * wj[j] * wk[k] / peak), floor)
                    n += 1
                }
            }
        }
        weights = w
    }
}
