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
        return isDirectory.boolValue
            ? try DicomFolder.loadSeries(in: item.image).volume : try NIfTIFile.readHounsfield(item.image)
    }

    /// A case's labels as model classes on its scan's grid, with the classes they label. A label
    /// map file (NIfTI) is mapped through the dataset's label map (values it leaves out become 0);
    /// labels stored in another voxel order (written by another tool than the image) are permuted
    /// and flipped onto the scan's; refused when the grids differ in place. A DICOM Segmentation
    /// (`.dcm`) is laid onto the scan's grid frame by frame, each segment mapped by its name
    /// (Segment Label, else its coded type with laterality) and the case labelling the classes
    /// its segments name, even those it holds no voxel of.
    public func labels(of item: Case, on geometry: Geometry) throws -> CaseLabels {
        if item.labels.lowercased().hasSuffix(".dcm") { return try segmentationLabels(item.labels, on: geometry) }
        var labels = try NIfTIFile.readLabels(item.labels)
        if labels.geometry.orientationCode != geometry.orientationCode,
            let reorientation = try? Reorientation(from: labels.geometry, to: geometry.orientationCode)
        {
            labels = reorientation.apply(labels)
        }
        let g = labels.geometry
        func close(_ a: SIMD3<Double>, _ b: SIMD3<Double>, _ tolerance: Double) -> Bool {
            ((a - b) * (a - b)).sum() < tolerance * tolerance
        }
        guard g.size == geometry.size, close(g.spacing, geometry.spacing, 1e-3),
            close(g.origin, geometry.origin, max(0.01, 0.5 * geometry.spacing.min()))
        else {
            throw PathError<LabelledDataset>(
                path: item.labels,
                reason:
                    "the labels are not on the image's grid (\(g.size) at \(g.origin) against \(geometry.size) at \(geometry.origin))"
            )
        }
        var lookup = [UInt8](repeating: 0, count: 256)
        for (value, id) in labelMap where (0..<256).contains(value) { lookup[value] = UInt8(id) }
        labels.voxels = labels.voxels.map { lookup[Int($0)] }
        return CaseLabels(volume: labels, labelled: Set(labelMap.values))
    }

    private func segmentationLabels(_ path: String, on geometry: Geometry) throws -> CaseLabels {
        func organ(_ segment: DicomSegmentationReader.Segment) -> UInt8? {
            let names = [segment.label, "\(segment.modifierMeaning) \(segment.typeMeaning)", segment.typeMeaning].map(
                OrganSynonyms.canonical)
            for name in names {
                if let organ = classes.first(where: {
                    $0.id > 0 && $0.id < 256 && OrganSynonyms.canonical($0.name) == name
                }) {
                    return UInt8(organ.id)
                }
            }
            return nil
        }
        let read = try DicomSegmentationReader.read(path, onto: geometry, value: organ)
        return CaseLabels(volume: read.labels, labelled: Set(read.segments.compactMap { organ($0).map(Int.init) }))
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

/// One case's labels on its scan's grid and the model classes the case labels: the others may
/// be present under 0 and must be neither taught as background nor scored (partial labels).
public struct CaseLabels: Sendable {
    public var volume: Volume<UInt8>
    public var labelled: Set<Int>

    public init(volume: Volume<UInt8>, labelled: Set<Int>) {
        self.volume = volume
        self.labelled = labelled
    }

    /// Per model class, whether the case leaves it unlabelled. Background itself is labelled.
    public func unlabelledClasses(classCount: Int) -> [Bool] { Self.unlabelled(labelled, classCount: classCount) }

    public static func unlabelled(_ labelled: Set<Int>, classCount: Int) -> [Bool] {
        (0..<classCount).map { $0 != 0 && !labelled.contains($0) }
    }
}
