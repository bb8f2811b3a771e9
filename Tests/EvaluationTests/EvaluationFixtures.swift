import ModelSpec

enum EvaluationFixtures {
    /// A coarse preparation (6 × 6 × 8 mm), so that a random model segments a phantom in seconds.
    static let recipe = InputPreparation(
        orientation: "LPS", resample: .spacing([6, 6, 8]),
        normalization: .clipScale(min: -200, max: 300),
        bodyCrop: .init(thresholdHU: -500, marginMM: 10))
}
