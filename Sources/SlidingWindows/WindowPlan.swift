import Volumes

/// Where the windows of a sliding-window inference go.
///
/// Sizes are `Extent3` in voxel order (i = W, fastest; j = H; k = D, the slice axis), the
/// same as `Volume`. Windows overlap by at least `overlap` of their size along each axis and
/// are spread evenly from one edge of the volume to the other (as nnU-Net does). Along an
/// axis shorter than the window there is one window at 0 and the input is padded.
public struct WindowPlan: Sendable, Equatable {
    public let volumeSize: Extent3
    public let windowSize: Extent3
    public let overlap: Double
    /// Window origins, grouped in rows of equal k, rows in ascending k, so that slices can be
    /// finalized behind the rows.
    public let origins: [SIMD3<Int>]

    public init(volumeSize: Extent3, windowSize: Extent3, overlap: Double) {
        precondition((0..<1).contains(overlap), "overlap must be in [0, 1)")
        precondition(windowSize.i > 0 && windowSize.j > 0 && windowSize.k > 0)
        self.volumeSize = volumeSize
        self.windowSize = windowSize
        self.overlap = overlap
        let ks = Self.positions(size: volumeSize.k, window: windowSize.k, overlap: overlap)
        let js = Self.positions(size: volumeSize.j, window: windowSize.j, overlap: overlap)
        let iStarts = Self.positions(size: volumeSize.i, window: windowSize.i, overlap: overlap)
        origins = ks.flatMap { k in js.flatMap { j in iStarts.map { i in SIMD3(i, j, k) } } }
    }

    /// Evenly spaced starts covering [0, size) with steps of at most window × (1 − overlap).
    public static func positions(size: Int, window: Int, overlap: Double) -> [Int] {
        guard size > window else { return [0] }
        let maxStep = max(1, Int((Double(window) * (1 - overlap)).rounded(.down)))
        let steps = (size - window + maxStep - 1) / maxStep + 1
        let span = Double(size - window)
        return (0..<steps).map { n in steps == 1 ? 0 : Int((span * Double(n) / Double(steps - 1)).rounded()) }
    }

    /// The distinct k starts of the window rows, ascending.
    public var rowStarts: [Int] {
        var starts: [Int] = []
        for o in origins where starts.last != o.z { starts.append(o.z) }
        return starts
    }
}
