import NIfTI
import Volumes

/// The label map in both NIfTI containers the product promises, each written atomically:
/// `segmentation.nii.zst` (the default: smaller and faster) and `segmentation.nii.gz` (what
/// nibabel, ITK-SNAP and 3D Slicer open). Labels are uint8 on the scan's own grid with the
/// affine dcm2niix gives the scan.
public enum SegmentationWriter {
    public static let fileNames = ["segmentation.nii.zst", "segmentation.nii.gz"]

    /// Writes both files into `folder` and returns their paths.
    @discardableResult
    public static func write(_ labels: Volume<UInt8>, into folder: String) throws -> [String] {
        try fileNames.map { name in
            let path = "\(folder)/\(name)"
            try AtomicFile.write(to: path) { temporary in
                try NIfTIFile.write(labels, to: temporary, description: "lcovnet labels")
            }
            return path
        }
    }
}
