import Inference
import SlidingWindows
import Volumes

/// Cuts int8 calibration windows from a whole prepared volume the way segmentation sees it: the
/// window `WindowChoice.fitted` gives the volume, spread evenly along each axis, read by the
/// sliding windows' source with the volume's lowest value beyond a short axis's end (what
/// segmentation pads with: the normalization's minimum, and air is in every CT). Upper-abdomen
/// scans can be under 32 slices.
public enum CalibrationWindows {
    /// - Parameters: `dims` D×H×W of `values`; `model` the model's window D, H, W.
    public static func cut(_ values: [Float], dims: [Int], model: [Int], count: Int) throws -> [(
        shape: WindowShape, values: [Float]
    )] {
        precondition(dims.count == 3 && values.count == dims.reduce(1, *))
        guard let lowest = values.min() else { return [] }
        let size = Extent3(dims[2], dims[1], dims[0])
        let window = try WindowChoice.fitted(model: model, prepared: size)
        let box = window.extent
        let source = VolumeWindowSource(volume: Volume(geometry: Geometry(size: size), voxels: values), padding: lowest)
        return (0..<count).map { i in
            let t = count == 1 ? 0.5 : Double(i) / Double(count - 1)
            func start(_ length: Int, _ window: Int) -> Int { Int(Double(max(0, length - window)) * t) }
            var crop = [Float](repeating: 0, count: window.voxelCount)
            crop.withUnsafeMutableBufferPointer {
                source.read(
                    origin: SIMD3(start(size.i, box.i), start(size.j, box.j), start(size.k, box.k)), size: box, into: $0
                )
            }
            return (window, crop)
        }
    }
}
