import ModelSpec
import Volumes

/// The output grid of a resampling step, as a per-axis affine from output index to input
/// index (`input = scale * output + offset`) plus the output size.
///
/// Three conventions, one per manifest mode, each exact in the output geometry:
/// - fixed shape: PyMIC `Rescale` (scipy `ndimage.zoom`, order 1, `grid_mode=False`, the same as
///   PyTorch's `align_corners=True`): the centres of the first and last voxels stay where they
///   were, so `scale = (n − 1) / (m − 1)` and the spacing grows by that factor. This is what the
///   official checkpoint was trained on.
/// - target spacing: the field of view stays centred (SimpleITK-style extent, PyTorch's
///   `align_corners=False`): `m = round(n · spacing / target)`, the spacing is exactly the
///   target, and the centre of the output grid is the centre of the input grid, so when the
///   extent divides evenly the outer voxel faces coincide.
/// - nnU-Net v1: the outer voxel faces of input and output coincide (`scale = n / m`), so the
///   spacing is the target's only up to the rounding of `m`, as in nnU-Net's own arrays.
public struct ResampleGrid: Sendable, Equatable, Codable {
    public var size: Extent3
    public var scale: SIMD3<Double>
    public var offset: SIMD3<Double>

    public init(size: Extent3, scale: SIMD3<Double>, offset: SIMD3<Double>) {
        self.size = size
        self.scale = scale
        self.offset = offset
    }

    /// The grid `mode` asks for, from an input of `size` voxels at `spacing` mm.
    public init(_ mode: InputPreparation.Resampling, inputSize size: Extent3, inputSpacing spacing: SIMD3<Double>) {
        var out = [0, 0, 0]
        var scale = SIMD3<Double>(1, 1, 1)
        var offset = SIMD3<Double>(0, 0, 0)
        for a in 0..<3 {
            let n = Double(size[a])
            switch mode {
            case .fixedShape(let i, let j, let k):
                let m = [i, j, k][a]
                out[a] = m
                if m > 1 && size[a] > 1 {
                    scale[a] = (n - 1) / Double(m - 1)
                } else if m == 1 {
                    // One output voxel covering the whole extent, at its centre.
                    scale[a] = n
                    offset[a] = (n - 1) / 2
                } else {
                    // A single input voxel spread over m: every output reads it.
                    scale[a] = 1 / Double(m)
                    offset[a] = -(Double(m) - 1) / (2 * Double(m))
                }
            case .spacing(let target):
                let m = max(1, Int((n * spacing[a] / target[a]).rounded()))
                out[a] = m
                scale[a] = target[a] / spacing[a]
                offset[a] = (n - 1) / 2 - scale[a] * (Double(m) - 1) / 2
            case .nnUNetV1(let target, _):
                // numpy's round (half to even) of the spacing ratio times the size; samples at
                // voxel centres spread over the same extent (skimage resize, grid_mode=True).
                let m = max(1, Int((spacing[a] / target[a] * n).rounded(.toNearestOrEven)))
                out[a] = m
                scale[a] = n / Double(m)
                offset[a] = scale[a] / 2 - 0.5
            }
        }
        self.init(size: Extent3(out[0], out[1], out[2]), scale: scale, offset: offset)
    }
}
