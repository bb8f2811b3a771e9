import Foundation
import Inference

/// LCOV-Net for training, any width list (the student has LCOVNetArchitecture.widths; a teacher
/// may be wider), built from LCOVNetArchitecture's layer definitions so that parameter names are
/// the reference state-dict keys.
///
/// Outputs are indexed by deep-supervision scale, full resolution first: scale s holds the logits
/// of segout(4−s) and the features of Decode_block(4−s), at 1/2^s of the window.
final class TrainableLCOVNet {
    let widths: [Int]
    let classCount: Int
    let encoders: [HighBlock]
    let bottleneck: LowBlock
    let downs: [Pooling]
    let ups: [UpBlock]
    let decoders: [HighBlock]
    /// segout1 (1/8) ... segout4 (full resolution), in the reference's order.
    let heads: [Convolution]

    static let scales = 4

    init(
        widths f: [Int] = LCOVNetArchitecture.widths, classCount: Int = LCOVNetArchitecture.classCount, pool: BufferPool
    ) {
        precondition(f.count == 5)
        widths = f
        self.classCount = classCount
        let cin = [LCOVNetArchitecture.inputChannels, f[0], f[1], f[2]]
        encoders = (0..<4).map { HighBlock("Encode_block\($0 + 1)", cin[$0], f[$0], pool: pool) }
        bottleneck = LowBlock("Encode_BottleNeck_block5", f[3], f[4])
        downs = (0..<4).map { _ in Pooling.maxDown(pool) }
        let below = [f[4], f[3], f[2], f[1]]
        let at = [f[3], f[2], f[1], f[0]]
        ups = (0..<4).map { UpBlock("up\($0 + 1)", below[$0], at[$0]) }
        decoders = (0..<4).map { HighBlock("Decode_block\($0 + 1)", 2 * at[$0], at[$0], pool: pool) }
        heads = (0..<4).map { i in
            var head = LCOVNetArchitecture.head("segout\(i + 1)", at[i])
            head.outChannels = classCount
            return Convolution(head)
        }
    }

    var units: [ConvUnit] {
        encoders.flatMap(\.units) + bottleneck.units + (0..<4).flatMap { [ups[$0].unit] + decoders[$0].units }
    }

    var parameters: [Parameter] { units.flatMap(\.parameters) + heads.flatMap(\.parameters) }
    var statistics: [RunningStatistics] { units.compactMap { $0.batchNorm?.running } }

    /// Normalise with the running BatchNorm statistics in training too, and keep them (fine-tuning).
    func freezeBatchNormStatistics(_ frozen: Bool = true) {
        for unit in units { unit.batchNorm?.statisticsFrozen = frozen }
    }

    /// Sets every BatchNorm's running statistics to the plain average over `count` windows
    /// from `window` (forward passes in training mode, one window alive at a time, no
    /// backward); the weights are untouched.
    func averageBatchNormStatistics(over count: Int, _ ctx: TrainingContext, window: () -> Tensor) throws {
        let norms = units.compactMap(\.batchNorm).filter { !$0.statisticsFrozen }
        for n in norms { n.beginAveraging() }
        defer { for n in norms { n.averaging = false } }
        for _ in 0..<count { _ = try forward(window(), ctx, training: true) }
    }

    /// Multiply-adds of one forward pass on a window of `voxels` voxels (convolutions only).
    func multiplyAdds(voxels: Int) -> Int {
        var total = 0
        for (level, block) in encoders.enumerated() {
            let v = voxels >> (3 * level)
            total +=
                block.conv1.conv.multiplyAdds(voxels: v) + block.conv2_1.conv.multiplyAdds(voxels: v)
                + block.conv2_2.conv.multiplyAdds(voxels: v / 8)
        }
        total += bottleneck.units.reduce(0) { $0 + $1.conv.multiplyAdds(voxels: voxels >> 12) }
        for i in 0..<4 {
            let v = voxels >> (3 * (3 - i))
            total += ups[i].unit.conv.multiplyAdds(voxels: v / 8) + heads[i].multiplyAdds(voxels: v)
            let d = decoders[i]
            total +=
                d.conv1.conv.multiplyAdds(voxels: v) + d.conv2_1.conv.multiplyAdds(voxels: v)
                + d.conv2_2.conv.multiplyAdds(voxels: v / 8)
        }
        return total
    }

    struct Output {
        /// Per scale (full resolution first): logits N×classes×… and decoder features.
        var logits: [Tensor]
        var features: [Tensor]
    }

    /// Forward pass on N×1×D×H×W (channels-last equals plain with one channel). In training mode
    /// BatchNorm uses batch statistics and every layer keeps what its backward pass needs.
    func forward(_ x: Tensor, _ ctx: TrainingContext, training: Bool) throws -> Output {
        var skips: [Tensor] = []
        var h = x
        for level in 0..<4 {
            let e = try encoders[level].forward(h, ctx, training: training)
            skips.append(e)
            h = try downs[level].forward(e, ctx, training: training)
        }
        h = try bottleneck.forward(h, ctx, training: training)
        var logits: [Tensor] = []
        var features: [Tensor] = []
        for i in 0..<4 {
            let u = try ups[i].forward(h, ctx, training: training)
            h = try decoders[i].forward(Elementwise.concat(u, skips[3 - i], ctx), ctx, training: training)
            features.insert(h, at: 0)
            logits.insert(try heads[i].forward(h, ctx, training: training), at: 0)
        }
        return Output(logits: logits, features: features)
    }

    /// Backward pass from gradients per scale (full resolution first; nil: no gradient there)
    /// for the logits and for the decoder features (MSKD's norm term); accumulates into every
    /// parameter's gradient.
    func backward(logits gLogits: [Tensor?], features gFeatures: [Tensor?], _ ctx: TrainingContext) throws {
        var g: Tensor?
        var skipGradients: [Tensor] = []
        for i in (0..<4).reversed() {  // decoder stage i+1 of the reference, scale s = 3 − i
            let s = 3 - i
            var d: Tensor? = g
            if let gl = gLogits[s] {
                let fromHead = try heads[i].backward(gl, ctx)!
                if let dd = d { Elementwise.accumulate(dd, fromHead, ctx) } else { d = fromHead }
            } else {
                heads[i].discard()
            }
            if let gf = gFeatures[s] {
                if let dd = d { Elementwise.accumulate(dd, gf, ctx) } else { d = gf }
            }
            guard let dOut = d else { throw TrainingError("backward: no gradient reaches Decode_block\(i + 1)") }
            let dConcat = try decoders[i].backward(dOut, ctx)!
            let (dUp, dSkip) = Elementwise.split(dConcat, first: ups[i].unit.conv.layer.outChannels, ctx)
            skipGradients.append(dSkip)  // decoder 4 first: ends as [enc1, enc2, enc3, enc4]
            g = try ups[i].backward(dUp, ctx)
        }
        var h = try bottleneck.backward(g!, ctx)
        for level in (0..<4).reversed() {
            let de = try downs[level].backward(h, ctx)
            Elementwise.accumulate(de, skipGradients[level], ctx)
            guard let next = try encoders[level].backward(de, ctx, inputGradient: level > 0) else { break }
            h = next
        }
    }
}
