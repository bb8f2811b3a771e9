import ModelSpec
import Volumes

/// Everything the preparation did to the voxel grid and the intensities, so that results on
/// the prepared grid can be taken back to the scan's own grid. Small and Codable: keep it
/// after the prepared voxels are gone.
public struct PreparationRecord: Sendable, Equatable, Codable {
    /// The scan's own grid, where labels must land.
    public var sourceGeometry: Geometry
    /// The grid the network sees.
    public var preparedGeometry: Geometry
    /// Prepared index → source index (reorientation, crop and resampling composed).
    public var map: AxisAlignedMap
    /// The orientation code the prepared grid was put in, or nil when the voxel order was kept.
    public var orientation: String?
    /// The body box, in source voxel indices; the whole scan when there was no crop.
    public var crop: CropBox
    /// The resampling, from the (reoriented, cropped) box to the prepared grid.
    public var resample: ResampleGrid
    public var normalization: Normalizer.Applied
    public var preparation: InputPreparation

    public var preparedSize: Extent3 { preparedGeometry.size }
}

/// A scan made ready for the network: normalized Float voxels on the prepared grid, and the
/// record of every step.
public struct PreparedVolume: Sendable {
    public var volume: Volume<Float>
    public var record: PreparationRecord
}
