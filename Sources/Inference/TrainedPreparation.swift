import Foundation
import ModelSpec

/// How a framework trained a checkpoint, as its exporter records it for `model import`
/// (tools/export_nnunet_v1.py): `{"input": {...}, "window": [D, H, W], "notes": [...]}`.
public struct TrainedPreparation: Sendable, Decodable, Equatable {
    public var input: InputPreparation
    public var window: [Int]
    public var notes: [String]

    public init(input: InputPreparation, window: [Int], notes: [String] = []) {
        self.input = input
        self.window = window
        self.notes = notes
    }

    /// The official checkpoint's (PyMIC's Rescale and z-score, 64×160×160 windows).
    public static let officialCheckpoint = TrainedPreparation(input: .officialCheckpoint, window: [64, 160, 160])

    enum CodingKeys: String, CodingKey { case input, window, notes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        input = try c.decode(InputPreparation.self, forKey: .input)
        window = try c.decode([Int].self, forKey: .window)
        notes = try c.decodeIfPresent([String].self, forKey: .notes) ?? []
        guard window.count == 3, (try? WindowShape(d: window[0], h: window[1], w: window[2])) != nil else {
            throw DecodingError.dataCorruptedError(
                forKey: .window, in: c,
                debugDescription: "window \(window) is not [D, H, W] with each a multiple of 16 and at least 32")
        }
    }

    public static func read(_ path: String) throws -> TrainedPreparation {
        do {
            return try JSONDecoder().decode(TrainedPreparation.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw InferenceError("\(path): not a preparation file: \(error)")
        }
    }
}
