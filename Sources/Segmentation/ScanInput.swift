import Foundation
import Ingest
import Logging
import NIfTI
import Volumes

/// A scan to segment: its HU voxels on their own grid, and a name for its results folder.
public struct ScanInput: Sendable {
    public var volume: Volume<Int16>
    /// SeriesInstanceUID for DICOM input, the file stem for NIfTI input.
    public var identifier: String
    public var seriesInstanceUID: String?
    /// Where the scan came from (a folder or a file).
    public var path: String

    public init(volume: Volume<Int16>, identifier: String, seriesInstanceUID: String?, path: String) {
        self.volume = volume
        self.identifier = identifier
        self.seriesInstanceUID = seriesInstanceUID
        self.path = path
    }

    /// Loads a DICOM folder (the preferred series in it, or `series`) or a NIfTI file.
    public static func load(_ path: String, series: String? = nil, logger: Logger) throws -> ScanInput {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SegmentationError(path: path, reason: "no such file or folder")
        }
        if isDirectory.boolValue {
            let loaded = try DicomFolder.loadSeries(in: path, id: series, logger: logger)
            return ScanInput(volume: loaded.volume, identifier: loaded.seriesInstanceUID.isEmpty ? loaded.id : loaded.seriesInstanceUID,
                             seriesInstanceUID: loaded.seriesInstanceUID.isEmpty ? nil : loaded.seriesInstanceUID, path: path)
        }
        guard let format = NIfTIFormat(path: path) else {
            throw SegmentationError(path: path, reason: "not a DICOM folder nor a .nii, .nii.gz or .nii.zst file")
        }
        let volume = try NIfTIFile.readHounsfield(path)
        let name = URL(fileURLWithPath: path).lastPathComponent
        return ScanInput(volume: volume, identifier: String(name.dropLast(format.fileExtension.count)), seriesInstanceUID: nil, path: path)
    }
}

/// A segmentation that could not be done, naming the input and the reason in one line.
public struct SegmentationError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
