import ModelSpec
import Volumes

/// A prepared scan with labels on the prepared grid (D = k, H = j, W = i; i fastest): what the
/// distillation cache stores patches of.
public struct PreparedScan: Sendable {
    public var size: Extent3
    public var image: [Float]
    public var labels: [UInt8]
    public var record: PreparationRecord

    /// The prepared voxels and the labels found on that same grid (a segmentation's argmax
    /// before it went back to the scan's grid).
    public init(image: [Float], labels: [UInt8], record: PreparationRecord) throws {
        let size = record.preparedSize
        guard image.count == size.count, labels.count == size.count else {
            throw PreprocessError(
                "a prepared scan of \(size) needs \(size.count) voxels and labels, got \(image.count) and \(labels.count)"
            )
        }
        self.size = size
        self.image = image
        self.labels = labels
        self.record = record
    }

    /// Prepares `scan` as the model wants and carries `labels` (on the scan's grid) over.
    public init(scan: Volume<Int16>, labels: Volume<UInt8>, spec: InputPreparation, threads: Int) throws {
        let prepared = try Preparation.prepare(scan, as: spec, threads: threads)
        size = prepared.volume.size
        image = prepared.volume.voxels
        record = prepared.record
        self.labels = PreparedLabels.carry(labels, onto: prepared.record)
    }
}
