/// For each voxel index along one source axis: whether it lies inside the crop box, and the two
/// prepared-grid indices (along the prepared axis that runs along this source axis) that it lies
/// between, with the weight of the upper one. Positions beyond the outermost prepared voxel
/// centres (at most half a prepared voxel, inside the box) take the border value.
struct SourceAxisTaps: Sendable {
    var inside: [Bool]
    var lower: [Int]
    var upper: [Int]
    var weight: [Float]

    init(record: PreparationRecord, sourceAxis p: Int) {
        let a = record.map.derivedAxis[p]
        let n = record.sourceGeometry.size[p]
        let m = record.preparedSize[a]
        let scale = record.map.scale[a]
        let offset = record.map.offset[a]
        inside = (0..<n).map { $0 >= record.crop.lower[p] && $0 < record.crop.upper[p] }
        lower = []
        upper = []
        weight = []
        for s in 0..<n {
            let x = min(max((Double(s) - offset) / scale, 0), Double(m - 1))
            var i0 = Int(x.rounded(.down))
            var w = x - Double(i0)
            if w < 1e-9 {
                w = 0
            } else if w > 1 - 1e-9 {
                i0 += 1
                w = 0
            }
            i0 = min(i0, m - 1)
            lower.append(i0)
            upper.append(min(i0 + 1, m - 1))
            weight.append(Float(w))
        }
    }

    /// Prepared indices this axis reads for the source indices `range`, or nil when none of them
    /// is inside the crop box.
    func preparedSpan(_ range: Range<Int>) -> ClosedRange<Int>? {
        var lo = Int.max
        var hi = Int.min
        for s in range where inside[s] {
            lo = min(lo, lower[s])
            hi = max(hi, upper[s])
        }
        return lo <= hi ? lo...hi : nil
    }
}
