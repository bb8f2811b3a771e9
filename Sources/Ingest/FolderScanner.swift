import Foundation
import Volumes

/// One frame as the scan saw it, before assembly.
struct ScannedFrame: Sendable {
    var reference: SliceReference
    var attributes: DicomAttributes
    var rowDirection: SIMD3<Double>
    var columnDirection: SIMD3<Double>
    var rowSpacing: Double
    var columnSpacing: Double
    var thickness: Double?
}

/// What reading one file's headers gave: frames to assemble, or a note on why it was left out.
enum ScannedFile: Sendable {
    case frames([ScannedFrame])
    case excluded(IngestNote, attributes: DicomAttributes?)
}

enum FolderScanner {
    /// Every regular file under `root` (subfolders included), hidden files skipped, sorted.
    static func files(under root: String) throws(IngestError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw IngestError(.noInput, path: root, detail: "no such file or folder")
        }
        guard isDirectory.boolValue else { return [root] }
        guard
            let enumerator = FileManager.default.enumerator(
                at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.isRegularFileKey],
                options: [.skipsHiddenFiles])
        else {
            throw IngestError(.noInput, path: root, detail: "the folder cannot be listed")
        }
        var paths: [String] = []
        for case let url as URL in enumerator {
            // Symbolic links to files count as the files they name.
            let target = url.resolvingSymlinksInPath()
            if (try? target.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                paths.append(url.path)
            }
        }
        return paths.sorted()
    }

    /// Reads one file's headers and classifies it.
    static func scan(_ path: String, policy: IngestPolicy, keeping openFiles: OpenFiles? = nil) -> ScannedFile {
        let attributes: DicomAttributes
        let file: DicomFile
        do {
            file = try DicomFile(path: path, headersOnly: true)
            attributes = try file.attributes()
        } catch {
            return .excluded(IngestNote(error.code, path: path, detail: error.detail), attributes: nil)
        }
        func exclude(_ code: IngestCode, _ detail: String? = nil) -> ScannedFile {
            .excluded(IngestNote(code, path: path, detail: detail), attributes: attributes)
        }
        guard attributes.hasPixelData, attributes.rows > 0, attributes.columns > 0 else {
            return exclude(.notImage, attributes.sopClassUID.isEmpty ? nil : "SOP class \(attributes.sopClassUID)")
        }
        guard attributes.numberOfFrames > 0 else { return exclude(.corrupt, "NumberOfFrames is not a number") }
        if let modalities = policy.modalities, !modalities.contains(attributes.modality.uppercased()) {
            return exclude(.notCT, "modality \(attributes.modality.isEmpty ? "missing" : attributes.modality)")
        }
        guard attributes.samplesPerPixel == 1, [8, 16, 32].contains(attributes.bitsAllocated),
            !attributes.photometricInterpretation.hasPrefix("PALETTE")
        else {
            return exclude(
                .unsupportedPixels,
                "\(attributes.samplesPerPixel) samples, \(attributes.bitsAllocated) bits, \(attributes.photometricInterpretation)"
            )
        }
        if attributes.imageType.contains("LOCALIZER") || attributes.imageType.contains("SCOUT") {
            return exclude(.localizer)
        }
        // Nothing is sized from the header before it passes the plausibility limits, and the
        // stored pixel data must hold what Rows × Columns × frames promise.
        do {
            try Plausibility.checkImage(
                rows: attributes.rows, columns: attributes.columns, frames: attributes.numberOfFrames, path: path)
        } catch {
            return exclude(IngestCode(error.code), error.detail)
        }
        if let stored = attributes.pixelDataBytes {
            let needed =
                attributes.rows * attributes.columns * attributes.numberOfFrames * (attributes.bitsAllocated / 8)
            if stored < needed {
                return exclude(
                    .decodeFailed,
                    "PixelData holds \(stored) bytes; \(attributes.columns)×\(attributes.rows)×\(attributes.numberOfFrames) "
                        + "pixels of \(attributes.bitsAllocated) bits need \(needed)")
            }
        }
        var frames: [ScannedFrame] = []
        for frame in 0..<attributes.numberOfFrames {
            let info: FrameInfo
            do {
                info = attributes.isEnhancedMultiFrame ? try file.frameInfo(frame) : attributes.frame
            } catch {
                return exclude(.missingGeometry, error.detail)
            }
            guard let position = info.position, let row = info.rowDirection, let column = info.columnDirection,
                let rowSpacing = info.rowSpacing, let columnSpacing = info.columnSpacing,
                abs(dot(row, column)) < 0.01
            else {
                return exclude(.missingGeometry, attributes.numberOfFrames > 1 ? "frame \(frame + 1)" : nil)
            }
            do {
                try Plausibility.checkPosition(position, name: "ImagePositionPatient", path: path)
                try Plausibility.checkSpacing(rowSpacing, name: "PixelSpacing (between rows)", path: path)
                try Plausibility.checkSpacing(columnSpacing, name: "PixelSpacing (between columns)", path: path)
                try Plausibility.checkExtent(
                    Double(attributes.rows) * rowSpacing, name: "column (Rows × spacing)", plane: true, path: path)
                try Plausibility.checkExtent(
                    Double(attributes.columns) * columnSpacing, name: "row (Columns × spacing)", plane: true, path: path
                )
            } catch {
                return exclude(
                    IngestCode(error.code),
                    attributes.numberOfFrames > 1 ? "frame \(frame + 1): \(error.detail)" : error.detail)
            }
            // A classic multi-frame object without functional groups repeats one position: its
            // frames cannot be placed.
            if attributes.numberOfFrames > 1, !attributes.isEnhancedMultiFrame {
                return exclude(.missingGeometry, "\(attributes.numberOfFrames) frames without per-frame positions")
            }
            let reference = SliceReference(
                path: path, frame: frame, sopInstanceUID: attributes.sopInstanceUID,
                instanceNumber: attributes.instanceNumber, position: position,
                slope: info.rescaleSlope, intercept: info.rescaleIntercept)
            frames.append(
                ScannedFrame(
                    reference: reference, attributes: attributes, rowDirection: row,
                    columnDirection: column, rowSpacing: rowSpacing,
                    columnSpacing: columnSpacing, thickness: info.sliceThickness))
        }
        openFiles?.keep(file)
        return .frames(frames)
    }

    /// Scans files on `threads` threads, keeping their order.
    static func scan(_ paths: [String], policy: IngestPolicy, keeping openFiles: OpenFiles? = nil) -> [ScannedFile] {
        let results = ResultSlots<ScannedFile>(count: paths.count)
        Parallel.forEach(paths.count, threads: policy.threads) { index in
            results[index] = scan(paths[index], policy: policy, keeping: openFiles)
        }
        return results.values.map { $0! }
    }
}

/// Fixed slots written by parallel workers, each slot by exactly one worker.
final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    // @unchecked: every slot is written by one worker and read only after all workers finish;
    // raw memory avoids the exclusivity check a shared Swift array would trip.
    private let storage: UnsafeMutableBufferPointer<Value?>
    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }
    deinit {
        storage.deinitialize()
        storage.deallocate()
    }
    subscript(index: Int) -> Value? {
        get { storage[index] }
        set { storage[index] = newValue }
    }
    var values: [Value?] { Array(storage) }
}

/// The scan's open handles (headers parsed, pixel data still on disk), handed to the loader so
/// that no file's headers are parsed twice. Each handle is taken once.
final class OpenFiles: @unchecked Sendable {
    // @unchecked: the dictionary is guarded by the lock, and a handle taken out is used by one
    // thread only.
    private let lock = NSLock()
    private var files: [String: DicomFile] = [:]

    func keep(_ file: DicomFile) { lock.withLock { files[file.path] = file } }
    func take(_ path: String) -> DicomFile? { lock.withLock { files.removeValue(forKey: path) } }
}
