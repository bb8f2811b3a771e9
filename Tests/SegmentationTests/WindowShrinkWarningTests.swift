import Foundation
import Inference
import Logging
import ModelSpec
import ModelTestSupport
import Phantom
import Preprocess
import TestSupport
import Testing
import Volumes

@testable import Segmentation

/// A window cut to fit the memory budget costs accuracy, so the segmenter warns about it (once
/// per scan, naming both windows), and stays quiet when the model's window fits.
@Suite struct WindowShrinkWarningTests {
    /// Keeps the warnings a Logger receives.
    final class Captured: @unchecked Sendable {
        private let lock = NSLock()
        private var messages: [String] = []
        func add(_ m: String) {
            lock.lock()
            messages.append(m)
            lock.unlock()
        }
        var all: [String] {
            lock.lock()
            defer { lock.unlock() }
            return messages
        }
    }

    struct Handler: LogHandler {
        let captured: Captured
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            captured.add(
                "\(event.message) \((event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
            )
        }
    }

    @Test func aShrunkWindowIsReported() throws {
        let dir = try TemporaryDirectory()
        let recipe = InputPreparation(
            orientation: "LPS", resample: .spacing([3, 3, 6]), normalization: .clipScale(min: -200, max: 300),
            bodyCrop: .init(thresholdHU: -500, marginMM: 10))
        let model = try RandomModel.write(to: dir.file("fp32"), input: recipe, window: [32, 96, 96])
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 7, matrix: 128, sliceSpacing: 5))
        let size = try Preparation.prepare(phantom.image, as: recipe).volume.size
        let held = WindowChoice.heldBytes(scan: phantom.image.size, prepared: size)
        let full = try WindowChoice.window(
            model: [32, 96, 96], prepared: size, classCount: 17, precision: .fp32, budgetBytes: Int.max / 4)
        // The largest budget that still cuts fp32's window, and one that does not.
        let tight = try #require(
            (100...4096).last {
                try WindowChoice.window(
                    model: [32, 96, 96], prepared: size, classCount: 17, precision: .fp32, budgetBytes: $0 << 20,
                    heldBytes: held) != full
            })
        for (budget, warned) in [(tight, true), (tight + 1, false)] {
            let captured = Captured()
            let logger = Logger(label: "test") { _ in Handler(captured: captured) }
            let result = try Segmenter(
                model: model, options: SegmentationOptions(precision: .fp32, threads: 2, memoryBudgetMiB: budget),
                logger: logger
            )
            .segment(phantom.image)
            let warnings = captured.all.filter { $0.contains("window shrunk") }
            #expect(warnings.count == (warned ? 1 : 0), "budget \(budget) MiB, window \(result.window): \(warnings)")
            #expect((result.window == full) != warned)
            if warned {
                #expect(warnings[0].contains("model_window=\(full)") && warnings[0].contains("window=\(result.window)"))
            }
        }
    }
}
