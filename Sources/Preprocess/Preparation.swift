import ModelSpec
import Volumes

/// The manifest's `input` applied to a scan: reorient, crop to the body, resample, normalize.
///
/// Reorientation, crop and resampling compose into one `AxisAlignedMap` and run as a single
/// trilinear pass (nnU-Net v1's cubic passes for its checkpoints) from the Int16 scan, slab by slab along the prepared k axis on `threads`
/// threads; normalization then runs in place. Peak memory beyond the scan itself: the
/// prepared Float volume (4 bytes per prepared voxel) plus the body finder's coarse grid.
public enum Preparation {
    public static func prepare(_ scan: Volume<Int16>, as spec: InputPreparation, threads: Int = 1) throws
        -> PreparedVolume
    {
        let source = scan.geometry
        guard source.size.count > 0 else { throw PreprocessError("the scan has no voxels (\(source.size))") }
        let reorientation = try spec.orientation.map { try Reorientation(from: source, to: $0) }
        let crop =
            spec.bodyCrop.map { BodyCrop.box(of: scan, $0, threads: threads) }
            ?? (spec.cropToNonzero ? CropBox(nonzeroOf: scan) : CropBox(whole: source.size))

        let orientMap = reorientation?.map ?? .identity
        let orientedCrop = reorientation.map { crop.reoriented(by: $0) } ?? crop
        let orientedSpacing = reorientation?.geometry.spacing ?? source.spacing
        let grid = ResampleGrid(spec.resample, inputSize: orientedCrop.size, inputSpacing: orientedSpacing)
        let start = SIMD3<Double>(
            Double(orientedCrop.lower[0]), Double(orientedCrop.lower[1]), Double(orientedCrop.lower[2]))
        let map = orientMap.appending(scale: grid.scale, offset: grid.offset + start)
        // The prepared Float volume is sized from the model's spacing and the scan's extent:
        // held to the same voxel limit as every input before it is allocated.
        try Plausibility.checkVoxelCount([grid.size.i, grid.size.j, grid.size.k], path: "the prepared grid")

        var volume: Volume<Float>
        if case .nnUNetV1(let target, let threshold) = spec.resample {
            guard reorientation == nil else {
                throw PreprocessError("nnunet-v1 resampling keeps the stored voxel order (orientation null)")
            }
            let axis = NNUNetV1Resampler.separateAxis(source: source.spacing, target: target, threshold: threshold)
            volume = Volume(
                geometry: map.derivedGeometry(source: source, size: grid.size),
                voxels: NNUNetV1Resampler.resample(
                    scan, crop: crop, size: grid.size, separateAxis: axis, threads: threads))
        } else {
            volume = Resampler.resample(scan, map: map, size: grid.size, threads: threads)
        }
        let applied = Normalizer.normalize(&volume, spec.normalization, threads: threads)
        let record = PreparationRecord(
            sourceGeometry: source, preparedGeometry: volume.geometry, map: map, orientation: spec.orientation,
            crop: crop, resample: grid, normalization: applied, preparation: spec)
        return PreparedVolume(volume: volume, record: record)
    }

    /// The prepared grid of a scan on `source` before the body crop (which needs the voxels):
    /// what `prepare` allocates at most.
    public static func uncroppedSize(of source: Geometry, as spec: InputPreparation) throws -> Extent3 {
        let reorientation = try spec.orientation.map { try Reorientation(from: source, to: $0) }
        return ResampleGrid(
            spec.resample, inputSize: reorientation?.size ?? source.size,
            inputSpacing: reorientation?.geometry.spacing ?? source.spacing
        ).size
    }
}
