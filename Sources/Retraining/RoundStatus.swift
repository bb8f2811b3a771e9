import Export
import Foundation

/// The state of the latest retraining round, in `<work>/retrain/status.json`: rewritten
/// (atomically) at each phase and every few steps, read by `lcovnet status`.
public struct RoundStatus: Codable, Sendable {
    public var round: String
    public var started: String
    public var updated: String
    /// backfill, split, phantoms, baseline, fine-tune, quantize, evaluate, done, skipped, failed
    public var phase: String
    public var step: Int?
    public var steps: Int?
    public var currentVersion: String?
    public var candidateVersion: String?
    public var trainingSeries: Int?
    public var validationSeries: Int?
    public var validationPatches: Int?
    public var correctedSeries: Int?
    public var currentDice: Double?
    public var candidateDice: Double?
    public var margin: Double?
    /// Mean Dice on the whole anchor phantoms (the promotion floor), measured only for a
    /// candidate that cleared the validation margin.
    public var anchorCurrentDice: Double?
    public var anchorCandidateDice: Double?
    public var decision: RoundDecision?
    public var reason: String?
    public var seconds: Double?

    enum CodingKeys: String, CodingKey {
        case round, started, updated, phase, step, steps, decision, reason, seconds, margin
        case currentVersion = "current_version", candidateVersion = "candidate_version", trainingSeries =
            "training_series"
        case validationSeries = "validation_series", validationPatches = "validation_patches", correctedSeries =
            "corrected_series"
        case currentDice = "current_dice", candidateDice = "candidate_dice"
        case anchorCurrentDice = "anchor_current_dice", anchorCandidateDice = "anchor_candidate_dice"
    }

    public static func read(_ path: String) -> RoundStatus? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(RoundStatus.self, from: data)
    }

    func write(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write([UInt8](try encoder.encode(self)), to: path)
    }
}

/// How a retraining round ended (status.json's `decision`).
public enum RoundDecision: String, Sendable, Codable, CustomStringConvertible {
    /// The candidate became the current model.
    case promoted
    /// The candidate did not clear the validation margin or the anchor floor.
    case keptCurrent = "kept-current"
    /// Too few labelled series for a round.
    case skipped
    /// The round stopped on an error.
    case failed

    public var description: String { rawValue }
}
