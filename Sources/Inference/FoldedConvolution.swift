import Foundation

/// A convolution with its BatchNorm folded in: w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β.
struct FoldedConvolution {
    let layer: LCOVNetArchitecture.ConvLayer
    /// (O, I/groups, kd, kh, kw) in C order.
    var weights: [Float]
    var bias: [Float]

    static let batchNormEpsilon = 1e-5

    init(_ layer: LCOVNetArchitecture.ConvLayer, from tensors: SafeTensors) throws {
        self.layer = layer
        func values(_ key: String, _ shape: [Int]) throws -> [Float] {
            guard let t = tensors.tensors[key] else { throw InferenceError("weights: missing tensor \(key)") }
            guard t.shape == shape else {
                throw InferenceError("weights: \(key) has shape \(t.shape), expected \(shape)")
            }
            return try t.floats()
        }
        let o = layer.outChannels
        let k = layer.kernel
        let perOutput = layer.inChannels / layer.groups * k.reduce(1, *)
        var w = try values("\(layer.convKey).weight", [o, layer.inChannels / layer.groups] + k)
        var b = try values("\(layer.convKey).bias", [o])
        if let bn = layer.batchNormKey {
            let gamma = try values("\(bn).weight", [o])
            let beta = try values("\(bn).bias", [o])
            let mean = try values("\(bn).running_mean", [o])
            let variance = try values("\(bn).running_var", [o])
            for c in 0..<o {
                let scale = Double(gamma[c]) / (Double(variance[c]) + Self.batchNormEpsilon).squareRoot()
                for i in 0..<perOutput { w[c * perOutput + i] = Float(Double(w[c * perOutput + i]) * scale) }
                b[c] = Float((Double(b[c]) - Double(mean[c])) * scale + Double(beta[c]))
            }
        }
        weights = w
        bias = b
    }

    /// The weights for input channels [from, to) only (the concatenated decoder input, split in two).
    func inputSlice(_ from: Int, _ to: Int) -> [Float] {
        precondition(layer.groups == 1)
        let o = layer.outChannels
        let i = layer.inChannels
        let k = layer.kernel.reduce(1, *)
        var out = [Float]()
        out.reserveCapacity(o * (to - from) * k)
        for c in 0..<o { out += weights[(c * i + from) * k..<(c * i + to) * k] }
        return out
    }
}
