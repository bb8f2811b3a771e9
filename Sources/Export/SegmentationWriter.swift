import NIfTI
import Volumes

/// The label map in both NIfTI containers the product promises, each written atomically:
/// `segmentation.nii.zst` (the default: smaller and faster) and `segmentation.nii.gz` (what
/// nibabel, ITK-SNAP and 3D Slicer open). Labels are uint8 on the scan's own grid with the
/// affine dcm2niix gives the scan.
public enum SegmentationWriter {
    public static let fileNames = ["segmentation.nii.zst", "segmentation.nii.gz"]

    /// Writes both files into `folder` and returns their paths.
    /// The two files are compressed side by side on two threads (gzip is the slow one).
    @discardableResult
    public static func write(_ labels: Volume<UInt8>, into folder: String, threads: Int = 2) throws -> [String] {
        let paths = fileNames.map { "\(folder)/\($0)" }
        var errors = [ExportError?](repeating: nil, count: paths.count)
        errors.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.forEach(paths.count, threads: threads) { n in
                do {
                    try AtomicFile.write(to: paths[n]) { temporary in
                        try NIfTIFile.write(labels, to: temporary, description: "lcovnet labels")
                    }
                } catch {
                    out[n] = error as? ExportError ?? ExportError(path: paths[n], reason: "\(error)")
                }
            }
        }
        if let error = errors.compactMap({ $0 }).first { throw error }
        return paths
    }
}
