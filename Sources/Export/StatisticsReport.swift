import Foundation
import Volumes

/// `statistics.json`: per-organ measurements, the model that made them, and how long each
/// stage of the job took.
public struct StatisticsReport: Sendable, Codable {
    public struct Model: Sendable, Codable, Equatable {
        public var id: String
        public var version: String
        public init(id: String, version: String) {
            self.id = id
            self.version = version
        }
    }

    public struct StageTime: Sendable, Codable, Equatable {
        public var stage: String
        public var seconds: Double
        public init(stage: String, seconds: Double) {
            self.stage = stage
            self.seconds = seconds
        }
    }

    public var model: Model
    /// "int8" or "fp32".
    public var precision: String
    /// In the order the stages ran.
    public var stages: [StageTime]
    public var voxelVolumeML: Double
    public var gridSize: [Int]
    public var spacingMM: [Double]
    public var organs: [OrganStatistics]

    enum CodingKeys: String, CodingKey {
        case model, precision, organs
        case stages = "stage_seconds"
        case voxelVolumeML = "voxel_volume_ml"
        case gridSize = "grid_size"
        case spacingMM = "spacing_mm"
    }

    public init(model: Model, precision: String, stages: [StageTime], geometry: Geometry, organs: [OrganStatistics]) {
        self.model = model
        self.precision = precision
        self.stages = stages
        self.voxelVolumeML = geometry.voxelVolumeML
        self.gridSize = [geometry.size.i, geometry.size.j, geometry.size.k]
        self.spacingMM = [geometry.spacing.x, geometry.spacing.y, geometry.spacing.z]
        self.organs = organs
    }

    public static let fileName = "statistics.json"

    /// Writes `statistics.json` into `folder` atomically and returns its path.
    @discardableResult
    public func write(into folder: String) throws -> String {
        let path = "\(folder)/\(Self.fileName)"
        try JSONOutput.write(self, to: path)
        return path
    }
}
