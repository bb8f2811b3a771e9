import Volumes

/// In-plane distance (mm) from one label's voxels, outwards, by a two-pass chamfer transform over
/// the label's bounding box grown by `limit`; nil when the slice holds none of it.
enum InPlaneDistance {
    struct Field {
        var distance: [Double]  // per voxel of the slice; .infinity beyond the box
        var centre: SIMD2<Double>  // the label's centre on the slice (voxel indices)
    }

    static func from(
        label: UInt8, slice k: Int, labels: UnsafeBufferPointer<UInt8>, size n: Extent3, spacing: Double, limit: Double
    ) -> Field? {
        let base = n.i * n.j * k
        var lo = (n.i, n.j)
        var hi = (-1, -1)
        var sum = SIMD2<Double>.zero
        var count = 0.0
        for j in 0..<n.j {
            for i in 0..<n.i where labels[base + i + n.i * j] == label {
                lo = (min(lo.0, i), min(lo.1, j))
                hi = (max(hi.0, i), max(hi.1, j))
                sum += SIMD2(Double(i), Double(j))
                count += 1
            }
        }
        guard count > 0 else { return nil }
        let grow = Int((limit / spacing).rounded(.up)) + 1
        let i0 = max(0, lo.0 - grow)
        let i1 = min(n.i - 1, hi.0 + grow)
        let j0 = max(0, lo.1 - grow)
        let j1 = min(n.j - 1, hi.1 + grow)
        var d = [Double](repeating: .infinity, count: n.i * n.j)
        for j in j0...j1 { for i in i0...i1 { d[i + n.i * j] = labels[base + i + n.i * j] == label ? 0 : 1e9 } }
        let a = spacing
        let b = spacing * 2.0.squareRoot()
        for j in j0...j1 {
            for i in i0...i1 where d[i + n.i * j] > 0 {
                let v = i + n.i * j
                if i > i0 { d[v] = min(d[v], d[v - 1] + a) }
                if j > j0 {
                    d[v] = min(d[v], d[v - n.i] + a)
                    if i > i0 { d[v] = min(d[v], d[v - n.i - 1] + b) }
                    if i < i1 { d[v] = min(d[v], d[v - n.i + 1] + b) }
                }
            }
        }
        for j in stride(from: j1, through: j0, by: -1) {
            for i in stride(from: i1, through: i0, by: -1) where d[i + n.i * j] > 0 {
                let v = i + n.i * j
                if i < i1 { d[v] = min(d[v], d[v + 1] + a) }
                if j < j1 {
                    d[v] = min(d[v], d[v + n.i] + a)
                    if i < i1 { d[v] = min(d[v], d[v + n.i + 1] + b) }
                    if i > i0 { d[v] = min(d[v], d[v + n.i - 1] + b) }
                }
            }
        }
        return Field(distance: d, centre: sum / count)
    }
}
