import Volumes

/// Labels on a scan's own grid → the prepared grid, by nearest neighbour through the record's map
/// (a training phantom's truth, the student's labels at caching time, a person's corrected labels at retraining time).
public enum PreparedLabels {
    public static func carry(_ labels: Volume<UInt8>, onto record: PreparationRecord) -> [UInt8] {
        let size = record.preparedSize
        let source = labels.size
        var out = [UInt8](repeating: 0, count: size.count)
        for k in 0..<size.k {
            for j in 0..<size.j {
                for i in 0..<size.i {
                    let s = record.map.sourceIndex(of: SIMD3(Double(i), Double(j), Double(k)))
                    let si = min(max(Int(s.x.rounded()), 0), source.i - 1)
                    let sj = min(max(Int(s.y.rounded()), 0), source.j - 1)
                    let sk = min(max(Int(s.z.rounded()), 0), source.k - 1)
                    out[i + size.i * (j + size.j * k)] = labels.voxels[labels.offset(si, sj, sk)]
                }
            }
        }
        return out
    }
}
