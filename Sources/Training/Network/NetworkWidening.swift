import Foundation
import Inference

/// Function-preserving widening (Net2WiderNet, Chen, Goodfellow & Shlens, ICLR 2016): a teacher
/// wider than a trained student starts as that student, so its training spends the CPU hours on
/// what the extra channels can add, not on relearning what the student knows.
///
/// Each layer's extra channels copy a randomly chosen channel of the narrower layer (its incoming
/// weights, bias and BatchNorm, so its activation is the same), and every consumer divides the
/// weights it applies to a channel by the number of copies of that channel, so its sums are
/// unchanged. BatchNorm, pooling, upsampling and the attention gate act per channel and keep the
/// copies equal; a little noise on the copies' incoming weights lets training tell them apart.
extension TrainableLCOVNet {
    /// For each channel of the wider layer, the narrower layer's channel it copies.
    struct ChannelMap {
        let source: [Int]
        /// Copies of each narrower channel (itself included).
        let copies: [Int]
        let original: Int

        init(source: [Int], original: Int) {
            self.source = source
            self.original = original
            var c = [Int](repeating: 0, count: original)
            for s in source { c[s] += 1 }
            copies = c
        }

        /// The first `narrow` channels are themselves; the rest copy channels drawn at random.
        init(from narrow: Int, to wide: Int, _ rng: inout SplitMix) {
            self.init(source: (0..<wide).map { $0 < narrow ? $0 : Int(rng.next() % UInt64(narrow)) }, original: narrow)
        }

        static func identity(_ n: Int) -> ChannelMap { ChannelMap(source: Array(0..<n), original: n) }

        /// The map of a channel concatenation [a, b].
        static func concat(_ a: ChannelMap, _ b: ChannelMap) -> ChannelMap {
            ChannelMap(source: a.source + b.source.map { $0 + a.original }, original: a.original + b.original)
        }
    }

    /// Loads initial weights: as they are when their widths (state-dict metadata) are this
    /// network's, else widened from them. Returns the widths widened from, or nil.
    func loadInitial(_ state: SafeTensors, source: String, seed: UInt64) throws -> [Int]? {
        let narrow = LCOVNetArchitecture.widths(of: state)
        guard narrow != widths else {
            try load(state, source: source)
            return nil
        }
        let small = TrainableLCOVNet(widths: narrow, classCount: classCount, pool: BufferPool())
        try small.load(state, source: source)
        try widen(from: small, seed: seed)
        return narrow
    }

    /// Sets this network to `narrow` widened to this network's widths.
    /// - Parameters:
    ///   - noise: relative standard deviation of the noise on the copied channels' incoming weights
    ///     (0: the widened network computes exactly what `narrow` does).
    func widen(from narrow: TrainableLCOVNet, seed: UInt64, noise: Float = 0.01) throws {
        guard narrow.classCount == classCount, zip(narrow.widths, widths).allSatisfy({ $0 <= $1 }) else {
            throw TrainingError("cannot widen a network of widths \(narrow.widths) to \(widths)")
        }
        var rng = SplitMix(seed: seed)
        let encoded = (0..<4).map { ChannelMap(from: narrow.widths[$0], to: widths[$0], &rng) }
        let bottom = ChannelMap(from: narrow.widths[4], to: widths[4], &rng)
        let level = [3, 2, 1, 0]  // decoder stage i works at encoder level 3 − i
        let upMaps = level.map { ChannelMap(from: narrow.widths[$0], to: widths[$0], &rng) }
        let decoded = level.map { ChannelMap(from: narrow.widths[$0], to: widths[$0], &rng) }
        func copy(_ wide: [ConvUnit], _ small: [ConvUnit], input: ChannelMap, output: ChannelMap) {
            for (i, (w, s)) in zip(wide, small).enumerated() {
                // A block's conv1 reads the block's input; its other convolutions read conv1's output.
                w.copy(s, input: i == 0 ? input : output, output: output, noise: noise, &rng)
            }
        }
        var input = ChannelMap.identity(LCOVNetArchitecture.inputChannels)
        for l in 0..<4 {
            copy(encoders[l].units, narrow.encoders[l].units, input: input, output: encoded[l])
            input = encoded[l]
        }
        copy(bottleneck.units, narrow.bottleneck.units, input: input, output: bottom)
        var below = bottom
        for i in 0..<4 {
            ups[i].unit.copy(narrow.ups[i].unit, input: below, output: upMaps[i], noise: noise, &rng)
            copy(
                decoders[i].units, narrow.decoders[i].units,
                input: .concat(upMaps[i], encoded[level[i]]), output: decoded[i])
            heads[i].copy(narrow.heads[i], input: decoded[i], output: .identity(classCount), noise: 0, &rng)
            below = decoded[i]
        }
    }
}

extension ConvUnit {
    fileprivate func copy(
        _ small: ConvUnit, input: TrainableLCOVNet.ChannelMap, output: TrainableLCOVNet.ChannelMap, noise: Float,
        _ rng: inout SplitMix
    ) {
        conv.copy(small.conv, input: input, output: output, noise: noise, &rng)
        guard let bn = batchNorm, let s = small.batchNorm else { return }
        let pick = { (values: [Float]) in output.source.map { values[$0] } }
        bn.scale.values = pick(s.scale.values)
        bn.shift.values = pick(s.shift.values)
        bn.running.mean = pick(s.running.mean)
        bn.running.variance = pick(s.running.variance)
        bn.running.batchesTracked = s.running.batchesTracked
    }
}

extension Convolution {
    /// Weights [out, in / groups, kd, kh, kw]: a depthwise layer (groups = channels) copies each
    /// channel's kernel; a dense one also splits each input channel's weight among its copies.
    fileprivate func copy(
        _ small: Convolution, input: TrainableLCOVNet.ChannelMap, output: TrainableLCOVNet.ChannelMap, noise: Float,
        _ rng: inout SplitMix
    ) {
        let depthwise = layer.groups > 1
        precondition(!depthwise || layer.groups == layer.outChannels, "\(layer.name): only depthwise grouping widens")
        let kernel = layer.kernel.reduce(1, *)
        let smallIn = depthwise ? 1 : small.layer.inChannels
        let wideIn = depthwise ? 1 : layer.inChannels
        let old = small.weight.values
        var new = [Float](repeating: 0, count: weight.count)
        for o in 0..<layer.outChannels {
            let so = output.source[o]
            let copied = o >= output.original
            for i in 0..<wideIn {
                let si = depthwise ? 0 : input.source[i]
                let share = depthwise ? 1 : Float(input.copies[si])
                for k in 0..<kernel {
                    // Per weight, not per channel: BatchNorm would undo a channel-wide factor.
                    let jitter: Float = copied ? 1 + noise * Float(rng.gaussian()) : 1
                    new[(o * wideIn + i) * kernel + k] = old[(so * smallIn + si) * kernel + k] / share * jitter
                }
            }
        }
        weight.values = new
        let b = small.bias.values
        bias.values = output.source.map { b[$0] }
    }
}
