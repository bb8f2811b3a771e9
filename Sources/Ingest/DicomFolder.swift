import Foundation
import Logging
import Volumes

/// Reads a folder of DICOM files (subfolders included) into series, and series into volumes.
///
/// ```swift
/// let scan = try DicomFolder.scan("/data/study", logger: logger)
/// let series = try DicomFolder.load(scan.preferred!, logger: logger)   // series.volume: Volume<Int16> in HU
/// ```
public enum DicomFolder {
    /// Reads every file's headers and assembles the eligible series. Throws `noInput` when the path
    /// is missing or holds no file, and `noSeries` (with the most telling file note) when no file
    /// belongs to an eligible series.
    public static func scan(
        _ root: String, policy: IngestPolicy = IngestPolicy(),
        logger: Logger = Logger(label: "lcovnet.ingest")
    ) throws(IngestError) -> DicomScan {
        let start = ContinuousClock.now
        let paths = try FolderScanner.files(under: root)
        guard !paths.isEmpty else { throw IngestError(.noInput, path: root, detail: "the folder holds no file") }
        let openFiles = policy.keepsOpenFiles ? OpenFiles() : nil
        let scanned = FolderScanner.scan(paths, policy: policy, keeping: openFiles)

        var fileNotes: [IngestNote] = []
        var framesBySeries: [String: [ScannedFrame]] = [:]
        var excludedBySeries: [String: [IngestNote]] = [:]
        for (path, result) in zip(paths, scanned) {
            switch result {
            case .frames(let frames):
                framesBySeries[SeriesAssembly.seriesKey(frames[0].attributes, path: path), default: []] += frames
            case .excluded(let note, let attributes):
                // Localizers and outliers belong to their series' notes; the rest stand alone.
                if note.code == .localizer, let attributes {
                    excludedBySeries[SeriesAssembly.seriesKey(attributes, path: path), default: []].append(note)
                } else {
                    fileNotes.append(note)
                }
            }
        }
        for (key, notes) in excludedBySeries where framesBySeries[key] == nil { fileNotes += notes }

        var candidates: [SeriesCandidate] = []
        var rejected: [RejectedSeries] = []
        for key in framesBySeries.keys.sorted() {
            switch SeriesAssembly.assemble(
                framesBySeries[key]!, key: key, excluded: excludedBySeries[key] ?? [], policy: policy)
            {
            case .success(var candidate):
                candidate.openFiles = openFiles
                candidates.append(candidate)
            case .failure(let series): rejected.append(series)
            }
        }
        candidates.sort(by: SeriesAssembly.preferenceOrder)
        var scan = DicomScan(
            root: root, fileCount: paths.count, candidates: candidates, rejectedSeries: rejected,
            fileNotes: fileNotes)
        let damaged = fileNotes.filter { $0.code == .corrupt }
        if policy.damagedFiles == .reject, let first = damaged.first, !candidates.isEmpty {
            scan.folderRejection = IngestNote(
                .corrupt, path: first.path,
                detail: "\(damaged.count) damaged file(s) may belong to any series; first: \(first.detail ?? "")")
        }
        logger.debug(
            "scanned DICOM folder",
            metadata: [
                "files": "\(paths.count)", "series.eligible": "\(candidates.count)",
                "series.rejected": "\(rejected.count)",
                "files.excluded": "\(fileNotes.count)", "duration_ms": "\(milliseconds(since: start))"
            ])
        return scan
    }

    /// Decodes a candidate into a volume in HU on its output grid (resampled where its notes say so).
    public static func load(
        _ candidate: SeriesCandidate, policy: IngestPolicy = IngestPolicy(),
        logger: Logger = Logger(label: "lcovnet.ingest")
    ) throws(IngestError) -> LoadedSeries {
        let start = ContinuousClock.now
        var (volume, clamped) = try SeriesLoader.decode(candidate, threads: policy.threads)
        var notes = candidate.notes
        if clamped > 0 { notes.append(IngestNote(.valuesClamped, detail: "\(clamped) voxels")) }
        if let tilt = candidate.tilt { volume = SliceResampling.correctTilt(volume, tilt) }
        if let targets = candidate.targetLocations {
            volume = SliceResampling.resampleAlongK(
                volume, from: candidate.slices.map(\.location), to: targets,
                geometry: candidate.geometry)
        }
        precondition(volume.geometry.size == candidate.geometry.size)
        volume.geometry = candidate.geometry
        logger.debug(
            "loaded DICOM series",
            metadata: [
                "series.uid": "\(candidate.seriesInstanceUID)", "size": "\(volume.size)",
                "duration_ms": "\(milliseconds(since: start))"
            ])
        return LoadedSeries(
            volume: volume, seriesInstanceUID: candidate.seriesInstanceUID, id: candidate.id,
            modality: candidate.modality, seriesNumber: candidate.seriesNumber,
            seriesDescription: candidate.seriesDescription,
            sourceSliceCount: candidate.slices.count, notes: notes, source: DicomSource(candidate))
    }

    /// Scans and loads in one call: the series with `id` (UID or fallback key), or the preferred one.
    public static func loadSeries(
        in root: String, id: String? = nil, policy: IngestPolicy = IngestPolicy(),
        logger: Logger = Logger(label: "lcovnet.ingest")
    ) throws(IngestError) -> LoadedSeries {
        let scan = try scan(root, policy: policy, logger: logger)
        return try load(try scan.select(id: id), policy: policy, logger: logger)
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Int {
        (ContinuousClock.now - start).inMilliseconds
    }
}

extension DicomScan {
    /// The series with `id`, or the preferred one; throws the reason when there is none.
    public func select(id: String? = nil) throws(IngestError) -> SeriesCandidate {
        if let folderRejection {
            throw IngestError(folderRejection.code, path: folderRejection.path ?? root, detail: folderRejection.detail)
        }
        if let id {
            guard let found = candidate(id: id) else {
                let rejection = rejectedSeries.first { $0.id == id || $0.seriesInstanceUID == id }
                throw IngestError(
                    rejection?.reason.code ?? .seriesNotFound, path: root,
                    detail: rejection.map { "series \(id): \($0.reason.detail ?? $0.reason.code.sentence)" }
                        ?? "series \(id)")
            }
            return found
        }
        if let preferred { return preferred }
        // Say why: a rejected series first, else the most common file-level reason.
        if let series = rejectedSeries.max(by: { $0.fileCount < $1.fileCount }) {
            throw IngestError(series.reason.code, path: root, detail: series.reason.detail)
        }
        let counts = Dictionary(grouping: fileNotes, by: \.code)
        if let (code, notes) = counts.max(by: { $0.value.count < $1.value.count }) {
            let detail =
                notes.count == 1
                ? notes[0].detail
                : "\(notes.count) of \(fileCount) files" + (notes[0].detail.map { "; first: \($0)" } ?? "")
            // Every file left out for one reason that says more than "no series": that reason.
            if fileNotes.count == fileCount,
                [.notDicom, .corrupt, .unreadable, .decodeFailed].contains(code) || code.isPlausibilityLimit
            {
                throw IngestError(code, path: notes.count == 1 ? (notes[0].path ?? root) : root, detail: detail)
            }
            throw IngestError(.noSeries, path: root, detail: "\(code.rawValue): \(detail ?? code.sentence)")
        }
        throw IngestError(.noSeries, path: root)
    }
}
