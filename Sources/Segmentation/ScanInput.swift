import Export
import Foundation
import Ingest
import Logging
import NIfTI
import Volumes

/// A scan to segment: its HU voxels on their own grid, and a name for its results folder.
public struct ScanInput: Sendable {
    public var volume: Volume<Int16>
    public var seriesInstanceUID: String?
    /// Where the scan came from (a folder or a file).
    public var path: String
    /// The DICOM images it was read from (results go back as a DICOM Segmentation); nil for NIfTI.
    public var dicomSource: DicomSource?

    public init(volume: Volume<Int16>, seriesInstanceUID: String?, path: String, dicomSource: DicomSource? = nil) {
        self.volume = volume
        self.seriesInstanceUID = seriesInstanceUID
        self.path = path
        self.dicomSource = dicomSource
    }

    /// A series Ingest read (an empty SeriesInstanceUID is none).
    public init(_ loaded: LoadedSeries, path: String) {
        self.init(
            volume: loaded.volume, seriesInstanceUID: loaded.seriesInstanceUID.isEmpty ? nil : loaded.seriesInstanceUID,
            path: path,
            dicomSource: loaded.source)
    }

    /// The name of its results folder: the SeriesInstanceUID for DICOM input, the file stem for NIfTI input.
    public var name: String { ResultFolder.name(seriesUID: seriesInstanceUID, inputPath: path) }

    /// Loads a DICOM folder (the preferred series in it, or `series`) or a NIfTI file.
    public static func load(_ path: String, series: String? = nil, logger: Logger) throws -> ScanInput {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SegmentationError(path: path, reason: "no such file or folder")
        }
        if isDirectory.boolValue {
            let loaded = try DicomFolder.loadSeries(in: path, id: series, logger: logger)
            return ScanInput(loaded, path: path)
        }
        guard NIfTIFormat(path: path) != nil else {
            throw SegmentationError(path: path, reason: "not a DICOM folder nor a .nii, .nii.gz or .nii.zst file")
        }
        do {
            let volume = try NIfTIFile.readHounsfield(path)
            return ScanInput(volume: volume, seriesInstanceUID: nil, path: path)
        } catch let error as PlausibilityError {
            // One family of reason codes for every input: the daemon and `segment` map ingest codes.
            throw IngestError(error)
        }
    }
}

/// A segmentation that could not be done, naming the input and the reason in one line.
public typealias SegmentationError = PathError<SegmentationFailure>

/// Marks path errors about the input of a segmentation (missing, not a scan).
public enum SegmentationFailure {}
