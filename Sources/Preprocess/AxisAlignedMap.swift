import Volumes

/// How the voxel index of a derived grid reads from its source grid when every derived axis
/// runs along one source axis (reorientation, crop and resampling never rotate):
///
///     source[sourceAxis[a]] = scale[a] * derived[a] + offset[a]      for a in 0..<3
///
/// A negative scale is a flip. Everything a `PreparedVolume` did to the voxel grid composes
/// into one such map, so the forward resampler and the way back read each other exactly.
public struct AxisAlignedMap: Sendable, Equatable, Codable {
    /// For each derived axis, the source axis it runs along (a permutation of 0, 1, 2).
    public var sourceAxis: [Int]
    public var scale: SIMD3<Double>
    public var offset: SIMD3<Double>

    public init(sourceAxis: [Int], scale: SIMD3<Double>, offset: SIMD3<Double>) {
        precondition(sourceAxis.sorted() == [0, 1, 2], "sourceAxis must be a permutation of 0, 1, 2")
        self.sourceAxis = sourceAxis
        self.scale = scale
        self.offset = offset
    }

    public static let identity = AxisAlignedMap(sourceAxis: [0, 1, 2], scale: [1, 1, 1], offset: [0, 0, 0])

    /// For each source axis, the derived axis that runs along it.
    public var derivedAxis: [Int] {
        var inverse = [0, 0, 0]
        for a in 0..<3 { inverse[sourceAxis[a]] = a }
        return inverse
    }

    /// The (fractional) source index of a derived index.
    public func sourceIndex(of derived: SIMD3<Double>) -> SIMD3<Double> {
        var s = SIMD3<Double>()
        for a in 0..<3 { s[sourceAxis[a]] = scale[a] * derived[a] + offset[a] }
        return s
    }

    /// The (fractional) derived index of a source index.
    public func derivedIndex(of source: SIMD3<Double>) -> SIMD3<Double> {
        var d = SIMD3<Double>()
        for a in 0..<3 { d[a] = (source[sourceAxis[a]] - offset[a]) / scale[a] }
        return d
    }

    /// This map followed by a per-axis affine step on the derived side:
    /// the new derived index x relates to the old one by old[a] = scale[a] * x[a] + offset[a].
    public func appending(scale s: SIMD3<Double>, offset o: SIMD3<Double>) -> AxisAlignedMap {
        AxisAlignedMap(sourceAxis: sourceAxis, scale: scale * s, offset: scale * o + offset)
    }

    /// The exact geometry of the derived grid: every derived voxel centre sits at the patient
    /// position of the source index it reads.
    public func derivedGeometry(source: Geometry, size: Extent3) -> Geometry {
        var direction = Matrix3.identity
        var spacing = SIMD3<Double>(1, 1, 1)
        for a in 0..<3 {
            let p = sourceAxis[a]
            direction[a] = source.direction[p] * (scale[a] < 0 ? -1 : 1)
            spacing[a] = Swift.abs(scale[a]) * source.spacing[p]
        }
        let origin = source.point(atIndex: sourceIndex(of: .zero))
        return Geometry(size: size, spacing: spacing, origin: origin, direction: direction)
    }
}
