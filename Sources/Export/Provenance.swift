import Foundation
import Volumes

/// `provenance.json`: what went in, what ran, and how, so that a result can be traced and
/// reproduced. Holds no patient name, ID or birth date.
public struct Provenance: Sendable, Codable {
    public struct Input: Sendable, Codable {
        /// "dicom" or "nifti".
        public var kind: String
        public var seriesInstanceUID: String?
        public var grid: GridDescription

        enum CodingKeys: String, CodingKey {
            case kind, grid
            case seriesInstanceUID = "series_instance_uid"
        }

        public init(kind: String, seriesInstanceUID: String?, geometry: Geometry) {
            self.kind = kind
            self.seriesInstanceUID = seriesInstanceUID
            self.grid = GridDescription(geometry)
        }
    }

    /// A grid in the words viewers and DICOM use.
    public struct GridDescription: Sendable, Codable, Equatable {
        public var size: [Int]
        public var spacingMM: [Double]
        /// Centre of voxel (0, 0, 0) in LPS mm.
        public var originLPS: [Double]
        /// Unit vectors of the i, j, k axes in LPS, as columns, written row by row.
        public var directionLPS: [Double]
        /// nibabel axis codes, e.g. "LAS".
        public var orientation: String
        /// Voxel index → RAS mm, row by row: what the NIfTI files carry.
        public var affineRAS: [[Double]]

        enum CodingKeys: String, CodingKey {
            case size, orientation
            case spacingMM = "spacing_mm"
            case originLPS = "origin_lps_mm"
            case directionLPS = "direction_lps"
            case affineRAS = "affine_ras"
        }

        public init(_ g: Geometry) {
            size = [g.size.i, g.size.j, g.size.k]
            spacingMM = [g.spacing.x, g.spacing.y, g.spacing.z]
            originLPS = [g.origin.x, g.origin.y, g.origin.z]
            directionLPS = (0..<3).flatMap { r in (0..<3).map { c in g.direction[r, c] } }
            orientation = g.orientationCode
            affineRAS = g.affineRAS
        }
    }

    public var input: Input
    public var model: StatisticsReport.Model
    public var softwareVersion: String
    public var precision: String
    public var threads: Int
    public var memoryBudgetMiB: Int
    /// ISO 8601, UTC.
    public var created: String

    enum CodingKeys: String, CodingKey {
        case input, model, precision, threads, created
        case softwareVersion = "software_version"
        case memoryBudgetMiB = "memory_budget_mib"
    }

    public init(
        input: Input, model: StatisticsReport.Model, softwareVersion: String, precision: String, threads: Int,
        memoryBudgetMiB: Int, created: Date = Date()
    ) {
        self.input = input
        self.model = model
        self.softwareVersion = softwareVersion
        self.precision = precision
        self.threads = threads
        self.memoryBudgetMiB = memoryBudgetMiB
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        self.created = formatter.string(from: created)
    }

    public static let fileName = "provenance.json"

    @discardableResult
    public func write(into folder: String) throws -> String {
        let path = "\(folder)/\(Self.fileName)"
        try JSONOutput.write(self, to: path)
        return path
    }
}
