import Foundation
import Inference
import Volumes

/// Initialisation, and the state dict (parameters and BatchNorm statistics under the
/// reference's key names) as safetensors: what `model import`, the Inference engine and
/// PyTorch's load_state_dict read.
extension TrainableLCOVNet {
    /// He-normal convolution weights (ReLU6 follows most of them), zero biases, BatchNorm at
    /// identity; a fixed seed gives the same network.
    func initialize(seed: UInt64) {
        var rng = SplitMix(seed: seed)
        for unit in units { unit.conv.initialize(&rng) }
        for head in heads { head.initialize(&rng) }
    }

    /// Parameters and running statistics under their state-dict keys.
    func stateDict() -> SafeTensors {
        var tensors: [String: SafeTensors.Tensor] = [:]
        for p in parameters { tensors[p.key] = SafeTensors.Tensor(shape: p.shape, values: p.values) }
        for s in statistics {
            tensors["\(s.key).running_mean"] = SafeTensors.Tensor(shape: [s.mean.count], values: s.mean)
            tensors["\(s.key).running_var"] = SafeTensors.Tensor(shape: [s.variance.count], values: s.variance)
            tensors["\(s.key).num_batches_tracked"] = SafeTensors.Tensor(
                dtype: "I64", shape: [], bytes: withUnsafeBytes(of: s.batchesTracked.littleEndian) { Data($0) })
        }
        return SafeTensors(
            tensors: tensors, metadata: ["format": "pt", "widths": widths.map(String.init).joined(separator: ",")])
    }

    /// Loads a state dict (the reference's `up*.conv1.*` duplicates and a `module.` prefix accepted).
    func load(_ state: SafeTensors, source: String) throws {
        var byKey: [String: SafeTensors.Tensor] = [:]
        for (key, t) in state.tensors {
            var k = key.hasPrefix("module.") ? String(key.dropFirst(7)) : key
            if k.hasPrefix("up"), let r = k.range(of: ".conv1.") { k.replaceSubrange(r, with: ".conv.") }
            byKey[k] = t
        }
        func values(_ key: String, _ count: Int) throws -> [Float] {
            guard let t = byKey[key] else { throw TrainingError("\(source): missing tensor \(key)") }
            let v = try t.floats()
            guard v.count == count else {
                throw TrainingError("\(source): \(key) has \(v.count) values, this network needs \(count)")
            }
            return v
        }
        for p in parameters { p.values = try values(p.key, p.count) }
        for s in statistics {
            s.mean = try values("\(s.key).running_mean", s.mean.count)
            s.variance = try values("\(s.key).running_var", s.variance.count)
            if let t = byKey["\(s.key).num_batches_tracked"], let n = try? t.floats().first {
                s.batchesTracked = Int64(n)
            }
        }
    }
}

extension Convolution {
    func initialize(_ rng: inout SplitMix) {
        let fanIn = Double(layer.inChannels / layer.groups * layer.kernel.reduce(1, *))
        let std = (2 / fanIn).squareRoot()
        for i in 0..<weight.count { weight.value[i] = Float(rng.gaussian() * std) }
        bias.value.update(repeating: 0, count: bias.count)
    }
}

/// The trainer's seeded random source (SplitMix64) for initialisation and sampling.
struct SplitMix: RandomNumberGenerator {
    private var core: SplitMix64
    init(seed: UInt64) { core = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

    mutating func next() -> UInt64 { core.next() }

    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func gaussian() -> Double {
        let u = max(uniform(), 1e-300)
        let v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
