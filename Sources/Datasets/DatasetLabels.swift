import Foundation
import Ingest
import NIfTI
import Preprocess
import Volumes

extension LabelledDataset {
    /// A case's scan in HU: a NIfTI file, or the one CT series of a DICOM folder (DCMTK, with the
    /// ingest's checks).
    public func scan(of item: Case) throws -> Volume<Int16> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: item.image, isDirectory: &isDirectory) else {
            throw PathError<LabelledDataset>(path: item.image, reason: "no such file or folder")
        }
        return isDirectory.boolValue ? try DicomFolder.loadSeries(in: item.image).volume : try NIfTIFile.readHounsfield(item.image)
    }

    /// A case's labels as model classes on its scan's grid (values the dataset's map leaves out
    /// become 0). Labels stored in another voxel order (a label map written by another tool than
    /// the image) are permuted and flipped onto the scan's; refused when the grids differ in place.
    public func labels(of item: Case, on geometry: Geometry) throws -> Volume<UInt8> {
        var labels = try NIfTIFile.readLabels(item.labels)
        if labels.geometry.orientationCode != geometry.orientationCode,
           let reorientation = try? Reorientation(from: labels.geometry, to: geometry.orientationCode) {
            labels = reorientation.apply(labels)
        }
        let g = labels.geometry
        func close(_ a: SIMD3<Double>, _ b: SIMD3<Double>, _ tolerance: Double) -> Bool { ((a - b) * (a - b)).sum() < tolerance * tolerance }
        guard g.size == geometry.size, close(g.spacing, geometry.spacing, 1e-3),
              close(g.origin, geometry.origin, max(0.01, 0.5 * geometry.spacing.min())) else {
            throw PathError<LabelledDataset>(path: item.labels, reason: "the labels are not on the image's grid (\(g.size) at \(g.origin) against \(geometry.size) at \(geometry.origin))")
        }
        var lookup = [UInt8](repeating: 0, count: 256)
        for (value, id) in labelMap where (0..<256).contains(value) { lookup[value] = UInt8(id) }
        labels.voxels = labels.voxels.map { lookup[Int($0)] }
        return labels
    }

    /// Per model class, whether this dataset leaves it unlabelled (its voxels may be labelled 0):
    /// what the training loss must not teach as background. Background itself is labelled.
    public func unlabelledClasses(classCount: Int) -> [Bool] {
        let labelled = Set(labelMap.values)
        return (0..<classCount).map { $0 != 0 && !labelled.contains($0) }
    }

    /// The share of cases held out when a command or setting does not say.
    public static let defaultValidationFraction = 0.2

    /// A fixed split by the case id alone (FNV-1a, 64 bits): the same case is in the same part on
    /// every machine and run, whatever other cases the folder holds.
    public static func isValidation(_ id: String, fraction: Double) -> Bool {
        Double(StableHash.fnv1a(id) % 10_000) < fraction * 10_000
    }

    /// The cases of one part of the split, in id order.
    public func cases(validation: Bool, fraction: Double) -> [Case] {
        cases.filter { Self.isValidation($0.id, fraction: fraction) == validation }.sorted { $0.id < $1.id }
    }
}
