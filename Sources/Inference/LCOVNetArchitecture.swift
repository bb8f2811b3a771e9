/// LCOV-Net's layers as docs/LCOVNET.md states them: names follow the reference's state-dict
/// prefixes so that weights, quantization scales and per-layer timings share one vocabulary.
public enum LCOVNetArchitecture {
    public static let widths = [32, 64, 128, 256, 256]
    public static let inputChannels = 1
    public static let classCount = 17

    /// One convolution of the network, with the BatchNorm that follows it (if any).
    public struct ConvLayer: Sendable, Equatable {
        /// Layer name used in manifests and timings, e.g. "Encode_block1.conv2_1".
        public var name: String
        /// State-dict prefix of the convolution, e.g. "Encode_block1.conv2_2.1".
        public var convKey: String
        /// State-dict prefix of the BatchNorm, or nil (the segout heads).
        public var batchNormKey: String?
        public var inChannels: Int
        public var outChannels: Int
        /// (kd, kh, kw)
        public var kernel: [Int]
        public var groups: Int
    }

    /// LACB-H block convolutions: conv1 (1,1,3), conv2_1 (3,3,1), conv2_2 (1×1×1 after the pool).
    /// Public (with lowBlock, up, head) so that Training builds any width from the same definitions.
    public static func highBlock(_ name: String, _ cin: Int, _ cout: Int) -> [ConvLayer] {
        [
            ConvLayer(
                name: "\(name).conv1", convKey: "\(name).conv1.0", batchNormKey: "\(name).conv1.1", inChannels: cin,
                outChannels: cout, kernel: [1, 1, 3], groups: 1),
            ConvLayer(
                name: "\(name).conv2_1", convKey: "\(name).conv2_1.0", batchNormKey: "\(name).conv2_1.1",
                inChannels: cout, outChannels: cout, kernel: [3, 3, 1], groups: 1),
            ConvLayer(
                name: "\(name).conv2_2", convKey: "\(name).conv2_2.1", batchNormKey: "\(name).conv2_2.2",
                inChannels: cout, outChannels: cout, kernel: [1, 1, 1], groups: 1)
        ]
    }

    /// LACB-L (bottleneck): conv1, depthwise conv2_1, unpooled 1×1 conv2_2.
    public static func lowBlock(_ name: String, _ cin: Int, _ cout: Int) -> [ConvLayer] {
        [
            ConvLayer(
                name: "\(name).conv1", convKey: "\(name).conv1.0", batchNormKey: "\(name).conv1.1", inChannels: cin,
                outChannels: cout, kernel: [1, 1, 3], groups: 1),
            ConvLayer(
                name: "\(name).conv2_1", convKey: "\(name).conv2_1.0", batchNormKey: "\(name).conv2_1.1",
                inChannels: cout, outChannels: cout, kernel: [3, 3, 1], groups: cout),
            ConvLayer(
                name: "\(name).conv2_2", convKey: "\(name).conv2_2.0", batchNormKey: "\(name).conv2_2.1",
                inChannels: cout, outChannels: cout, kernel: [1, 1, 1], groups: 1)
        ]
    }

    public static func up(_ name: String, _ cin: Int, _ cout: Int) -> ConvLayer {
        ConvLayer(
            name: "\(name).conv", convKey: "\(name).conv.0", batchNormKey: "\(name).conv.1", inChannels: cin,
            outChannels: cout, kernel: [1, 1, 1], groups: 1)
    }

    public static func head(_ name: String, _ cin: Int) -> ConvLayer {
        ConvLayer(
            name: name, convKey: name, batchNormKey: nil, inChannels: cin, outChannels: classCount, kernel: [1, 1, 1],
            groups: 1)
    }

    /// Every convolution whose weights the engine needs (segout1..3 serve deep supervision only).
    public static let layers = layers(widths: widths)

    /// The same for a network of other widths (a teacher is wider).
    public static func layers(widths f: [Int]) -> [ConvLayer] {
        var l =
            highBlock("Encode_block1", inputChannels, f[0]) + highBlock("Encode_block2", f[0], f[1])
            + highBlock("Encode_block3", f[1], f[2]) + highBlock("Encode_block4", f[2], f[3])
            + lowBlock("Encode_BottleNeck_block5", f[3], f[4])
        l += [up("up1", f[4], f[3])] + highBlock("Decode_block1", 2 * f[3], f[3])
        l += [up("up2", f[3], f[2])] + highBlock("Decode_block2", 2 * f[2], f[2])
        l += [up("up3", f[2], f[1])] + highBlock("Decode_block3", 2 * f[1], f[1])
        l += [up("up4", f[1], f[0])] + highBlock("Decode_block4", 2 * f[0], f[0])
        l += [head("segout4", f[0])]
        return l
    }

    /// The deep-supervision heads a checkpoint also carries; imported and kept, unused at inference.
    public static let auxiliaryHeads = auxiliaryHeads(widths: widths)

    public static func auxiliaryHeads(widths f: [Int]) -> [ConvLayer] {
        [head("segout1", f[3]), head("segout2", f[2]), head("segout3", f[1])]
    }

    public static func layer(_ name: String, widths f: [Int] = widths) -> ConvLayer {
        guard let l = (layers(widths: f) + auxiliaryHeads(widths: f)).first(where: { $0.name == name }) else {
            preconditionFailure("no layer \(name)")
        }
        return l
    }

    /// The widths a state dict's encoder convolutions have (LCOV-Net's own when a tensor is
    /// missing: validation then names it).
    public static func widths(of weights: SafeTensors) -> [Int] {
        let blocks = (1...4).map { "Encode_block\($0)" } + ["Encode_BottleNeck_block5"]
        let found = blocks.compactMap { weights.tensors["\($0).conv1.0.weight"]?.shape.first }
        return found.count == 5 ? found : widths
    }
}

/// A window's shape in voxels (D = slices, H = rows, W = columns); each a multiple of 16 and ≥ 32.
public struct WindowShape: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public var d: Int, h: Int, w: Int

    public init(d: Int, h: Int, w: Int) throws {
        for s in [d, h, w] where s < 32 || s % 16 != 0 {
            throw InferenceError("window \(d)×\(h)×\(w): every size must be a multiple of 16 and at least 32")
        }
        self.d = d
        self.h = h
        self.w = w
    }

    /// A window written as commands take it: "64x160x160" (or with ×).
    public init(parsing text: String) throws {
        guard let p = Self.dimensions(text) else {
            throw InferenceError("window \(text): expected D×H×W, e.g. 64x160x160")
        }
        try self.init(d: p[0], h: p[1], w: p[2])
    }

    /// The one parser of "D×H×W" (x or ×, any case) for every command: three positive sizes, or nil.
    public static func dimensions(_ text: String) -> [Int]? {
        let parts = text.lowercased().split(whereSeparator: { $0 == "x" || $0 == "×" }).compactMap { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else { return nil }
        return parts
    }

    public var voxelCount: Int { d * h * w }
    public var description: String { "\(d)×\(h)×\(w)" }
    /// [D, H, W], the order of manifests and configurations.
    public var dims: [Int] { [d, h, w] }
}
