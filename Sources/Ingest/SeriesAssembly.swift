import Foundation
import Volumes

/// Groups scanned frames into series, orders them, removes duplicates and outliers, and decides
/// the output grid (and any resampling) of each series.
enum SeriesAssembly {
    /// The grouping key: SeriesInstanceUID, or, when a file leaves it empty, the study, the
    /// series number, the frame of reference and the folder.
    static func seriesKey(_ a: DicomAttributes, path: String) -> String {
        if !a.seriesInstanceUID.isEmpty { return a.seriesInstanceUID }
        let folder = (path as NSString).deletingLastPathComponent
        let number = a.seriesNumber.map(String.init) ?? "?"
        return SeriesKey.fallbackPrefix
            + "\(stableHash("\(a.studyInstanceUID)|\(number)|\(a.frameOfReferenceUID)|\(folder)"))"
    }

    static func assemble(_ frames: [ScannedFrame], key: String, excluded: [IngestNote], policy: IngestPolicy)
        -> Result<SeriesCandidate, RejectedSeries>
    {
        let first = frames[0].attributes
        let files = Set(frames.map(\.reference.path)).count + excluded.count
        var notes = excluded
        func reject(_ code: IngestCode, _ detail: String? = nil) -> Result<SeriesCandidate, RejectedSeries> {
            notes.insert(IngestNote(code, detail: detail), at: 0)
            return .failure(
                RejectedSeries(seriesInstanceUID: first.seriesInstanceUID, id: key, fileCount: files, notes: notes))
        }

        // The stack: the most common (size, orientation, pixel spacing); the others are outliers.
        let stackKey: (ScannedFrame) -> String = { f in
            let o = [
                f.rowDirection.x, f.rowDirection.y, f.rowDirection.z,
                f.columnDirection.x, f.columnDirection.y, f.columnDirection.z
            ]
            return "\(f.attributes.rows)x\(f.attributes.columns) "
                + o.map { String(format: "%.3f", $0) }.joined(separator: ",")
                + String(format: " %.4f %.4f", f.rowSpacing, f.columnSpacing)
        }
        let stacks = Dictionary(grouping: frames, by: stackKey)
        let main = stacks.max { a, b in a.value.count != b.value.count ? a.value.count < b.value.count : a.key > b.key
        }!
        for (k, outliers) in stacks where k != main.key {
            for path in Set(outliers.map(\.reference.path)).sorted() {
                notes.append(IngestNote(.orientationOutlier, path: path))
            }
        }

        // Exact duplicates: the same instance (and frame) twice.
        var seen = Set<String>()
        var stack: [ScannedFrame] = []
        for f in main.value.sorted(by: { $0.reference.path < $1.reference.path }) {
            let identity =
                f.reference.sopInstanceUID.isEmpty
                ? "\(f.reference.path)#\(f.reference.frame)"
                : "\(f.reference.sopInstanceUID)#\(f.reference.frame)"
            if seen.insert(identity).inserted {
                stack.append(f)
            } else {
                notes.append(IngestNote(.duplicate, path: f.reference.path))
            }
        }

        let row = stack[0].rowDirection
        let column = stack[0].columnDirection
        let normal = normalize(cross(row, column))
        var slices = stack.map { f -> SliceReference in
            var r = f.reference
            r.location = dot(r.position, normal)
            return r
        }
        slices.sort { $0.location != $1.location ? $0.location < $1.location : $0.path < $1.path }
        guard slices.count >= policy.minimumSlices else {
            return reject(.tooFewSlices, "\(slices.count) of \(policy.minimumSlices)")
        }
        let rows = stack[0].attributes.rows
        let columns = stack[0].attributes.columns
        let rowSpacing = stack[0].rowSpacing
        let columnSpacing = stack[0].columnSpacing

        // Spacing along the normal.
        let locations = slices.map(\.location)
        let gaps = zip(locations.dropFirst(), locations).map { $0 - $1 }
        // Every count below is sized from these distances: they pass the limits first.
        do {
            try Plausibility.checkExtent(
                locations.last! - locations[0], name: "slice (first to last position)", plane: false, path: key)
        } catch {
            return reject(IngestCode(error.code), error.detail)
        }
        var sliceSpacing = stack[0].thickness.flatMap { $0 > 0 ? $0 : nil } ?? 1
        var targetLocations: [Double]?
        if let smallest = gaps.min() {
            if smallest < 1e-3 {
                return reject(
                    .conflictingSlices,
                    String(format: "two slices at %.3f mm", locations[gaps.firstIndex(of: smallest)!]))
            }
            let span = locations.last! - locations[0]
            let typical = median(gaps)
            let tolerance = max(1e-3, policy.spacingTolerance * typical)
            if gaps.allSatisfy({ abs($0 - typical) <= tolerance }) {
                sliceSpacing = span / Double(gaps.count)
            } else {
                // A gap when every distance is a whole multiple of the smallest one.
                let isGap = gaps.allSatisfy { g in
                    let steps = (g / smallest).rounded()
                    return abs(g - steps * smallest) <= max(1e-3, policy.spacingTolerance * smallest)
                }
                let code: IngestCode = isGap ? .missingSlices : .nonUniformSpacing
                let choice = isGap ? policy.missingSlices : policy.nonUniformSpacing
                let detail = String(format: "spacing %.3f to %.3f mm", smallest, gaps.max()!)
                if choice == .reject { return reject(code, detail) }
                let step = isGap ? smallest : typical
                let steps = (span / step).rounded()
                guard steps < Double(Plausibility.maxSlices) else {
                    return reject(
                        .implausibleSize,
                        detail + String(format: ", %.0f slices; at most %d", steps + 1, Plausibility.maxSlices))
                }
                let count = Int(steps) + 1
                sliceSpacing = span / Double(count - 1)
                targetLocations = (0..<count).map { locations[0] + Double($0) * sliceSpacing }
                notes.append(
                    IngestNote(
                        isGap ? .missingSlicesInterpolated : .nonUniformSpacingResampled,
                        detail: detail + ", \(slices.count) slices to \(count)"))
            }
        }

        // Gantry tilt: slice positions drift within the slice plane.
        var tilt: TiltCorrection?
        var extraRows = 0
        var originRow = Double(rows - 1)
        let drifts = slices.map { s -> SIMD3<Double> in
            let d = s.position - slices[0].position
            return d - dot(d, normal) * normal
        }
        if let largest = drifts.map(length).max(), largest > 0.01 {
            let angle = atan2(length(drifts.last!), max(1e-9, locations.last! - locations[0])) * 180 / .pi
            let detail = String(format: "%.2f°", angle)
            // A gantry tilts every slice alike: each drift lies on one straight line through the
            // first slice, at a plausible angle. Anything else is not a tilt to repair.
            let shear = drifts.last! / max(1e-9, locations.last! - locations[0])
            do {
                for k in 1..<slices.count {
                    let distance = max(1e-9, locations[k] - locations[0])
                    try Plausibility.checkTilt(degrees: atan2(length(drifts[k]), distance) * 180 / .pi, path: key)
                    try Plausibility.checkTiltLine(offsetMM: length(drifts[k] - shear * distance), slice: k, path: key)
                }
            } catch {
                return reject(IngestCode(error.code), error.detail)
            }
            if policy.gantryTilt == .reject { return reject(.gantryTilt, detail) }
            // As dcm2niix's _Tilt: the grid grows by the rows the shear spans, so no voxel is lost,
            // and it is aligned with the slice shifted furthest down the DICOM rows.
            let rowShifts = drifts.map { dot($0, column) / rowSpacing }
            let highest = rowShifts.max()!
            let lowest = rowShifts.min()!
            guard highest - lowest <= Double(Plausibility.maxImageSide) else {
                return reject(
                    .implausibleSize,
                    detail
                        + String(format: ", %.0f rows to add; at most %d", highest - lowest, Plausibility.maxImageSide))
            }
            extraRows = Int((highest - lowest - 1e-6).rounded(.up))
            originRow = highest + Double(rows - 1)
            tilt = TiltCorrection(
                rowOffsets: rowShifts.map { highest - $0 },
                columnShifts: drifts.map { dot($0, row) / columnSpacing }, extraRows: extraRows)
            notes.append(IngestNote(.gantryTiltResampled, detail: detail + ", \(extraRows) rows added"))
        }

        let isAxisAligned = [row, column].allSatisfy { v in max(abs(v.x), abs(v.y), abs(v.z)) > 1 - 1e-4 }
        if !isAxisAligned { notes.append(IngestNote(.oblique)) }

        let sliceCount = targetLocations?.count ?? slices.count
        let origin = slices[0].position + originRow * rowSpacing * column
        let geometry = Geometry(
            size: Extent3(columns, rows + extraRows, sliceCount),
            spacing: SIMD3(columnSpacing, rowSpacing, sliceSpacing), origin: origin,
            direction: Matrix3(columns: row, -column, normal))
        do {
            try Plausibility.checkGeometry(geometry, path: key)
        } catch {
            return reject(IngestCode(error.code), error.detail)
        }
        return .success(
            SeriesCandidate(
                seriesInstanceUID: first.seriesInstanceUID, id: key, modality: first.modality,
                seriesNumber: first.seriesNumber, seriesDescription: first.seriesDescription,
                rows: rows, columns: columns, slices: slices, geometry: geometry, notes: notes,
                tilt: tilt, targetLocations: targetLocations, rowDirection: row, columnDirection: column))
    }

    /// Most slices first; ties: thinnest spacing, then id for a stable order.
    static func preferenceOrder(_ a: SeriesCandidate, _ b: SeriesCandidate) -> Bool {
        if a.sliceCount != b.sliceCount { return a.sliceCount > b.sliceCount }
        if abs(a.sliceSpacing - b.sliceSpacing) > 1e-6 { return a.sliceSpacing < b.sliceSpacing }
        return a.id < b.id
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    /// So fallback keys are the same in every run (Swift's Hasher is seeded per process).
    private static func stableHash(_ text: String) -> String { String(StableHash.fnv1a(text), radix: 16) }
}
