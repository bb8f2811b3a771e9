/// Cuts int8 calibration windows from a whole prepared volume the way segmentation sees it: the
/// model's window, shrunk along an axis where the volume is shorter (to the next multiple of 16,
/// at least 32, as `WindowChoice.fitted` does), spread evenly along each axis; beyond a short
/// axis's end a window holds the volume's lowest value, which is what segmentation pads with
/// (the normalization's minimum: air is in every CT). Upper-abdomen scans can be under 32 slices.
public enum CalibrationWindows {
    /// - Parameters: `dims` D×H×W of `values`; `model` the model's window D, H, W.
    public static func cut(_ values: [Float], dims: [Int], model: [Int], count: Int) throws -> [(shape: WindowShape, values: [Float])] {
        precondition(dims.count == 3 && model.count == 3 && values.count == dims.reduce(1, *))
        guard let lowest = values.min() else { return [] }
        let size = zip(dims, model).map { d, w in max(32, min(w, (d + 15) / 16 * 16)) }
        let window = try WindowShape(d: size[0], h: size[1], w: size[2])
        return (0..<count).map { i in
            let t = count == 1 ? 0.5 : Double(i) / Double(count - 1)
            let origin = (0..<3).map { Int(Double(max(0, dims[$0] - size[$0])) * t) }
            var crop = [Float](repeating: lowest, count: window.voxelCount)
            var o = 0
            for z in 0..<size[0] {
                for y in 0..<size[1] {
                    let (sz, sy) = (origin[0] + z, origin[1] + y)
                    let rowInside = sz < dims[0] && sy < dims[1]
                    let base = (sz * dims[1] + sy) * dims[2] + origin[2]
                    for x in 0..<size[2] {
                        if rowInside && origin[2] + x < dims[2] { crop[o] = values[base + x] }
                        o += 1
                    }
                }
            }
            return (window, crop)
        }
    }
}
