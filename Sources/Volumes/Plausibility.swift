import Foundation

/// Why an input's header was refused before anything was allocated from it: a stable code
/// (docs/INGEST.md, the daemon's quarantine records) and one sentence.
public enum PlausibilityCode: String, Sendable, CaseIterable, Codable {
    /// Spacing, positions, extent or direction outside what a CT scan can have.
    case implausibleGeometry = "implausible-geometry"
    /// Image size, frame or slice count, or voxel count beyond the limits.
    case implausibleSize = "implausible-size"
    /// Compressed data (deflated DICOM, .nii.gz, .nii.zst) that would decompress beyond the limit.
    case decompressedTooLarge = "decompressed-too-large"
    /// Slice positions sheared beyond a plausible gantry tilt, or not along a straight line.
    case implausibleTilt = "implausible-tilt"
    /// A plausible scan whose segmentation cannot fit the memory budget even with the smallest window.
    case overMemoryBudget = "over-memory-budget"

    public var sentence: String {
        switch self {
        case .implausibleGeometry:
            "The geometry (spacing, positions, extent or orientation) lies outside what a CT scan can have."
        case .implausibleSize: "The image size, slice count or voxel count lies beyond what a CT scan can have."
        case .decompressedTooLarge: "The compressed data would decompress to more than the limit."
        case .implausibleTilt: "The slice positions shear more than a CT gantry can tilt, or not along a straight line."
        case .overMemoryBudget:
            "Segmenting this scan needs more memory than the budget allows, even with the smallest window; raise the memory budget."
        }
    }
}

/// A header that failed a plausibility check: the file, the code and the numbers, in one line.
public struct PlausibilityError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: PlausibilityCode
    public var path: String
    /// What was found against which limit (numbers only, never patient data).
    public var detail: String

    public init(_ code: PlausibilityCode, path: String, detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(code.sentence) (\(detail)) [\(code.rawValue)]" }
}

/// The one owner of the limits an input must stay within before anything is sized from it:
/// every reader (DICOM headers, series assembly, NIfTI headers, decompression) asks here, so
/// that a crafted header is refused with a reason code instead of a trap or a huge allocation.
/// Every limit and code is listed in docs/INGEST.md ("Plausibility limits").
///
/// The limits are wide (micro-CT spacing, whole-body scans, 2048² matrices); they guard against
/// values no scanner writes, not against unusual scans.
public enum Plausibility {
    // MARK: Limits

    /// Rows or columns of one image (and any NIfTI axis): 4096 (CT matrices are 512 to 2048).
    public static let maxImageSide = 4096
    /// Frames in one file, and slices in a series (after any repair): 8192.
    public static let maxSlices = 8192
    /// Voxels of one volume: 2^29 = 536 870 912 (512 × 512 × 2048; 1 GiB in int16).
    public static let maxVoxels = 1 << 29
    /// Voxel spacing along any axis, mm: 0.01 (micro-CT) to 20 (thick legacy slices).
    public static let spacingRangeMM: ClosedRange<Double> = 0.01...20
    /// Extent (voxels × spacing) along any axis, mm: 2500 (a whole body with room to spare).
    public static let maxExtentMM = 2500.0
    /// Extent of an image plane along each of its two axes (a NIfTI volume's two shortest
    /// axes), mm: 1000 (the widest CT bore is 850 mm).
    public static let maxPlaneExtentMM = 1000.0
    /// Magnitude of any coordinate (position, origin), mm: 1e9 — only numbers that are not
    /// coordinates at all (1e300, overflowing sums) are refused here; the extents do the rest.
    public static let maxCoordinateMM = 1e9
    /// A direction matrix must span space: |det| of its unit columns at least 0.1.
    public static let minDirectionDeterminant = 0.1
    /// Gantry tilt, degrees: 30 (scanners tilt up to ±30°).
    public static let maxTiltDegrees = 30.0
    /// How far a slice may lie off the straight line a gantry tilt draws, mm.
    public static let tiltLinearityToleranceMM = 1.0
    /// Bytes one DICOM file's dataset may inflate to (deflated transfer syntax):
    /// `maxVoxels` × 2 bytes + 64 MiB of attributes.
    public static let maxInflatedDicomBytes = (1 << 30) + (64 << 20)
    /// How deep sequences and items may nest in one DICOM file: 128 (structured reports, the
    /// deepest real objects, stay under 30). DCMTK's reader recurses once per level and a file
    /// some thousands deep overflows the stack. LCOVNET_MAX_SEQUENCE_NESTING overrides it, to
    /// reproduce such a crash (the daemon's worker containment is tested that way).
    public static let maxSequenceNesting: Int = {
        guard let text = ProcessInfo.processInfo.environment["LCOVNET_MAX_SEQUENCE_NESTING"], let value = Int(text),
            value > 0
        else { return 128 }
        return value
    }()
    /// Voxel bytes a compressed NIfTI file (.nii.gz, .nii.zst) may declare: 2 GiB
    /// (`maxVoxels` in float32).
    public static let maxDecompressedNIfTIBytes = 1 << 31

    // MARK: Checks

    /// An image of `rows` × `columns` with `frames` frames (one DICOM file).
    public static func checkImage(rows: Int, columns: Int, frames: Int, path: String) throws(PlausibilityError) {
        guard (1...maxImageSide).contains(rows), (1...maxImageSide).contains(columns) else {
            throw PlausibilityError(
                .implausibleSize, path: path, detail: "\(columns)×\(rows) pixels; at most \(maxImageSide) a side")
        }
        guard (1...maxSlices).contains(frames) else {
            throw PlausibilityError(.implausibleSize, path: path, detail: "\(frames) frames; at most \(maxSlices)")
        }
        try checkVoxelCount([columns, rows, frames], path: path)
    }

    /// A voxel count from its factors, computed without overflow.
    public static func checkVoxelCount(_ factors: [Int], path: String) throws(PlausibilityError) {
        var count = 1
        for f in factors {
            let (product, overflow) = count.multipliedReportingOverflow(by: max(0, f))
            guard !overflow, product <= maxVoxels else {
                throw PlausibilityError(
                    .implausibleSize, path: path,
                    detail: factors.map(String.init).joined(separator: "×") + " voxels; at most \(maxVoxels)")
            }
            count = product
        }
    }

    /// A spacing in mm (one axis); `name` says which ("pixel spacing", "slice spacing").
    public static func checkSpacing(_ value: Double, name: String, path: String) throws(PlausibilityError) {
        guard value.isFinite, spacingRangeMM.contains(value) else {
            throw PlausibilityError(
                .implausibleGeometry, path: path,
                detail:
                    "\(name) \(format(value)) mm; expected \(spacingRangeMM.lowerBound) to \(spacingRangeMM.upperBound)"
            )
        }
    }

    /// A position or origin in mm.
    public static func checkPosition(_ p: SIMD3<Double>, name: String, path: String) throws(PlausibilityError) {
        guard [p.x, p.y, p.z].allSatisfy({ $0.isFinite && Swift.abs($0) <= maxCoordinateMM }) else {
            throw PlausibilityError(
                .implausibleGeometry, path: path,
                detail:
                    "\(name) (\(format(p.x)), \(format(p.y)), \(format(p.z))) mm; at most \(format(maxCoordinateMM)) in magnitude"
            )
        }
    }

    /// An extent in mm along one axis (`plane`: an image-plane axis, held to `maxPlaneExtentMM`).
    public static func checkExtent(_ millimetres: Double, name: String, plane: Bool, path: String)
        throws(PlausibilityError)
    {
        let limit = plane ? maxPlaneExtentMM : maxExtentMM
        guard millimetres.isFinite, millimetres <= limit else {
            throw PlausibilityError(
                .implausibleGeometry, path: path,
                detail: "\(name) extent \(format(millimetres)) mm; at most \(format(limit))")
        }
    }

    /// A whole volume's grid: size, spacing, extent, origin and direction. The two shortest
    /// axes are held to the image-plane extent.
    public static func checkGeometry(_ g: Geometry, path: String) throws(PlausibilityError) {
        let sizes = [g.size.i, g.size.j, g.size.k]
        guard sizes.allSatisfy({ (1...max(maxImageSide, maxSlices)).contains($0) }) else {
            throw PlausibilityError(
                .implausibleSize, path: path, detail: "\(g.size) voxels; each axis 1 to \(max(maxImageSide, maxSlices))"
            )
        }
        try checkVoxelCount(sizes, path: path)
        let axes = ["i", "j", "k"]
        for a in 0..<3 { try checkSpacing(g.spacing[a], name: "\(axes[a]) spacing", path: path) }
        try checkPosition(g.origin, name: "origin", path: path)
        let d = g.direction
        let columns = [d[0], d[1], d[2]]
        guard columns.allSatisfy({ v in [v.x, v.y, v.z].allSatisfy(\.isFinite) && Swift.abs(length(v) - 1) < 1e-3 }),
            Swift.abs(d.determinant) >= minDirectionDeterminant
        else {
            throw PlausibilityError(
                .implausibleGeometry, path: path,
                detail: "the direction matrix is degenerate (axes parallel, zero or not numbers)")
        }
        let extents = (0..<3).map { Double(sizes[$0]) * g.spacing[$0] }
        let shortest = (0..<3).sorted { extents[$0] < extents[$1] }
        for (rank, a) in shortest.enumerated() {
            try checkExtent(extents[a], name: "\(axes[a])", plane: rank < 2, path: path)
        }
    }

    /// A gantry tilt of `degrees` (the largest angle between a slice's in-plane drift and its
    /// distance along the normal).
    public static func checkTilt(degrees: Double, path: String) throws(PlausibilityError) {
        guard degrees.isFinite, Swift.abs(degrees) <= maxTiltDegrees else {
            throw PlausibilityError(
                .implausibleTilt, path: path, detail: "\(format(degrees))°; at most \(format(maxTiltDegrees))°")
        }
    }

    /// How far a slice lies off the straight line of a tilt, mm.
    public static func checkTiltLine(offsetMM: Double, slice: Int, path: String) throws(PlausibilityError) {
        guard offsetMM.isFinite, offsetMM <= tiltLinearityToleranceMM else {
            throw PlausibilityError(
                .implausibleTilt, path: path,
                detail:
                    "slice \(slice + 1) lies \(format(offsetMM)) mm off the line of the others; at most \(format(tiltLinearityToleranceMM)) mm"
            )
        }
    }

    /// Voxel bytes a compressed NIfTI file declares.
    public static func checkDecompressedNIfTI(bytes: Int, path: String) throws(PlausibilityError) {
        guard bytes >= 0, bytes <= maxDecompressedNIfTIBytes else {
            throw PlausibilityError(
                .decompressedTooLarge, path: path,
                detail: "its header declares \(bytes) voxel bytes; at most \(maxDecompressedNIfTIBytes)")
        }
    }

    /// Numbers as people read them: plain up to a million, exponent form beyond.
    static func format(_ v: Double) -> String {
        guard v.isFinite else { return "\(v)" }
        return Swift.abs(v) < 1e6 && (v == 0 || Swift.abs(v) >= 1e-3)
            ? String(format: "%.4g", v) : String(format: "%.3e", v)
    }
}
