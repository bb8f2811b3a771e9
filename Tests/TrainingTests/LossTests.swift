import Foundation
import TestSupport
import Testing

@testable import Training

@Suite struct LossTests {
    static let classes = 5, voxels = 300

    /// Random-looking but deterministic logits; the teacher is the student plus structure, so
    /// that the distillation terms are far from their minimum.
    static func inputs() -> (student: ClassScores, teacher: ClassScores, labels: [UInt8]) {
        var s = [Float]()
        var t = [Float]()
        for n in 0..<(classes * voxels) {
            let a = Float(sin(Double(n) * 12.9898) * 43758.5453).truncatingRemainder(dividingBy: 1)
            s.append(a * 4)
            t.append(a * 2 + Float(n % classes) - 1)
        }
        let labels = (0..<voxels).map { UInt8(($0 * 7 + $0 / 13) % classes) }
        return (
            ClassScores(classCount: classes, voxelCount: voxels, values: s),
            ClassScores(classCount: classes, voxelCount: voxels, values: t), labels
        )
    }

    /// Decoder features, voxel-major (channels fastest, as the network keeps them): 6 channels
    /// for the student, 9 for the teacher, with per-voxel norms from about 0.5 to 8.
    static func features(channels: Int, seed: Double) -> [Float] {
        (0..<(channels * voxels)).map { n in
            let a = Float(sin(Double(n) * 78.233 + seed) * 43758.5453).truncatingRemainder(dividingBy: 1)
            return a * Float(1 + (n / channels) % 5)
        }
    }
    static let studentFeatures = features(channels: 6, seed: 1), teacherFeatures = features(channels: 9, seed: 2)

    static func temperatures(_ f: [Float]) -> [Double] {
        f.withUnsafeBufferPointer { FeatureNorms.perVoxel($0.baseAddress!, channels: f.count / voxels, voxels: voxels) }
    }

    /// MSKD with a per-voxel temperature: the softened teacher distribution is far from uniform
    /// and the student's logits get a gradient (the whole-tensor norm, hundreds on a real window,
    /// gave uniform distributions, a loss of exactly ln C and no gradient).
    @Test func featureNormDistillationIsNotFlattenedToUniform() {
        let (s, t, _) = Self.inputs()
        let tt = Self.temperatures(Self.teacherFeatures)
        let c = Self.classes
        let n = Self.voxels
        func meanPeak(_ q: [Double]) -> Double {
            (0..<n).map { v in (0..<c).map { q[$0 * n + v] }.max()! }.reduce(0, +) / Double(n)
        }
        let perVoxel = meanPeak(t.softmax(temperatures: tt))
        let wholeNorm = Self.teacherFeatures.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        let whole = meanPeak(t.softmax(temperature: wholeNorm))
        #expect(whole < 1.02 / Double(c), "whole-tensor temperature \(wholeNorm): mean largest probability \(whole)")
        #expect(perVoxel > 1.2 / Double(c), "per-voxel temperatures: mean largest probability \(perVoxel)")
        let (mskd, _) = featureNormDistillationLoss(
            student: s, teacher: t, studentTemperatures: Self.temperatures(Self.studentFeatures),
            teacherTemperatures: tt)
        #expect(mskd.gradient.values.map { abs($0) }.max()! > 1e-4)
    }

    @Test func crossEntropyOfAPerfectPredictionIsNearZero() {
        let labels: [UInt8] = [0, 1, 2]
        var values = [Float](repeating: -20, count: 9)
        for v in 0..<3 { values[Int(labels[v]) * 3 + v] = 20 }
        let r = crossEntropyLoss(ClassScores(classCount: 3, voxelCount: 3, values: values), labels: labels)
        #expect(r.loss < 1e-12)
    }

    /// The training loop's one-pass Dice + cross-entropy on channels-last logits equals the two
    /// reference losses on class-major scores, value and gradient.
    @Test func fusedSegmentationLossEqualsDicePlusCrossEntropy() {
        let (z, _, labels) = Self.inputs()
        let c = Self.classes
        let n = Self.voxels
        var voxelMajor = [Float](repeating: 0, count: c * n)
        for v in 0..<n { for k in 0..<c { voxelMajor[v * c + k] = z.values[k * n + v] } }
        var gradient = [Float](repeating: .nan, count: c * n)
        let fused = voxelMajor.withUnsafeBufferPointer { zp in
            gradient.withUnsafeMutableBufferPointer { gp in
                FusedSegmentationLoss(
                    logits: zp.baseAddress!, labels: labels, classCount: c, scale: 0.5, gradient: gp.baseAddress!)
            }
        }
        let dice = diceLoss(z, labels: labels)
        let ce = crossEntropyLoss(z, labels: labels)
        #expect(abs(fused.dice - dice.loss) < 1e-5)
        #expect(abs(fused.crossEntropy - ce.loss) < 1e-5)
        var worst: Float = 0
        var largest: Float = 0
        for v in 0..<n {
            for k in 0..<c {
                let expected = 0.5 * (dice.gradient.values[k * n + v] + ce.gradient.values[k * n + v])
                worst = max(worst, abs(gradient[v * c + k] - expected))
                largest = max(largest, abs(expected))
            }
        }
        #expect(largest > 0)
        #expect(worst <= 1e-4 * largest, "max |Δgradient| \(worst) of \(largest)")
    }

    @Test func affinityLossIsZeroForIdenticalNetworks() {
        let (s, _, _) = Self.inputs()
        #expect(abs(classAffinityLoss(student: s, teacher: s).loss) < 1e-9)
    }

    @Test func finiteDifferencesAgreeWithTheAnalyticGradients() {
        let (s, t, labels) = Self.inputs()
        let losses: [(String, (ClassScores) -> LossGradient)] = [
            ("dice", { diceLoss($0, labels: labels) }),
            ("ce", { crossEntropyLoss($0, labels: labels) }),
            ("cakd", { classAffinityLoss(student: $0, teacher: t) }),
            (
                "mskd",
                {
                    featureNormDistillationLoss(
                        student: $0, teacher: t, studentTemperatures: Self.temperatures(Self.studentFeatures),
                        teacherTemperatures: Self.temperatures(Self.teacherFeatures)
                    ).0
                }
            )
        ]
        for (name, f) in losses {
            let analytic = f(s).gradient.values
            for index in [0, 17, 301, 777, 1499] {
                var plus = s
                var minus = s
                let h: Float = 1e-2
                plus.values[index] += h
                minus.values[index] -= h
                let numeric = (f(plus).loss - f(minus).loss) / Double(2 * h)
                #expect(abs(numeric - Double(analytic[index])) <= 1e-3 * max(abs(numeric), 1e-3), "\(name) at \(index)")
            }
        }
    }

    @Test(.enabled(if: ReferenceTools.hasPythonModules("torch", "numpy"), "needs Debian's python3-torch"))
    func lossesAndGradientsEqualPyTorchAutograd() throws {
        let (s, t, labels) = Self.inputs()
        let dir = try TemporaryDirectory()
        func write<T>(_ values: [T], _ name: String) throws {
            try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir.file(name))) }
        }
        // The reference reads features channel-major (F×N).
        func channelMajor(_ f: [Float]) -> [Float] {
            let c = f.count / Self.voxels
            return (0..<f.count).map { i in f[(i % Self.voxels) * c + i / Self.voxels] }
        }
        try write(s.values, "student.f32")
        try write(t.values, "teacher.f32")
        try write(labels, "labels.u8")
        try write(channelMajor(Self.studentFeatures), "features_student.f32")
        try write(channelMajor(Self.teacherFeatures), "features_teacher.f32")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../tools/kd_losses_reference.py"
        ).path
        let result = try ReferenceTools.run(
            ReferenceTools.python, [script, dir.path, "\(Self.classes)", "\(Self.voxels)"])
        #expect(result.status == 0, "\(result.stderr)")
        let reference = try JSONDecoder().decode([String: Double].self, from: Data(result.stdout.utf8))
        let temperatures = Self.temperatures(Self.studentFeatures)
        let (mskd, temperatureGradient) = featureNormDistillationLoss(
            student: s, teacher: t, studentTemperatures: temperatures,
            teacherTemperatures: Self.temperatures(Self.teacherFeatures))
        let ours: [String: LossGradient] = [
            "dice": diceLoss(s, labels: labels), "ce": crossEntropyLoss(s, labels: labels),
            "cakd": classAffinityLoss(student: s, teacher: t), "mskd": mskd
        ]
        for (name, value) in ours {
            let expected = try #require(reference[name])
            #expect(abs(value.loss - expected) <= 1e-6 * max(1, abs(expected)), "\(name): \(value.loss) vs \(expected)")
            let data = try Data(contentsOf: URL(fileURLWithPath: dir.file("grad_\(name).f32")))
            let grad = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let scale = grad.map { abs($0) }.max()!
            let worst = zip(grad, value.gradient.values).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4 * scale, "\(name) gradient differs by \(worst) (scale \(scale))")
        }
        // The features' gradient through the per-voxel norms, against autograd's.
        let f = Self.studentFeatures
        let c = f.count / Self.voxels
        var featureGradient = [Float](repeating: 0, count: f.count)
        f.withUnsafeBufferPointer { fp in
            featureGradient.withUnsafeMutableBufferPointer { gp in
                FeatureNorms.backward(
                    fp.baseAddress!, norms: temperatures, temperatureGradient: temperatureGradient, scale: 1,
                    channels: c, into: gp.baseAddress!)
            }
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.file("grad_mskd_features.f32")))
        let torchFeatures = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let expected = channelMajor(featureGradient)
        let scale = torchFeatures.map { abs($0) }.max()!
        #expect(scale > 0)
        let worst = zip(expected, torchFeatures).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "feature gradient differs by \(worst) (scale \(scale))")
    }

    /// Partial labels: with class 3 unlabelled (its voxels labelled background), the fused loss's
    /// marginal Dice + cross-entropy and its gradient equal PyTorch autograd's on the same merge.
    @Test(.enabled(if: ReferenceTools.hasPythonModules("torch", "numpy"), "needs Debian's python3-torch"))
    func marginalLossForPartialLabelsEqualsPyTorchAutograd() throws {
        let (s, t, full) = Self.inputs()
        let c = Self.classes
        let n = Self.voxels
        let unlabelled = (0..<c).map { $0 == 3 }
        let labels = full.map { $0 == 3 ? 0 : $0 }
        let dir = try TemporaryDirectory()
        func write<T>(_ values: [T], _ name: String) throws {
            try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir.file(name))) }
        }
        try write(s.values, "student.f32")
        try write(t.values, "teacher.f32")
        try write(full, "labels.u8")
        try write(labels, "labels_partial.u8")
        try write(unlabelled.map { UInt8($0 ? 1 : 0) }, "unlabelled.u8")
        try write([Float](repeating: 1, count: 2 * n), "features_student.f32")
        try write([Float](repeating: 1, count: 2 * n), "features_teacher.f32")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../tools/kd_losses_reference.py"
        ).path
        let result = try ReferenceTools.run(ReferenceTools.python, [script, dir.path, "\(c)", "\(n)"])
        try #require(result.status == 0, "\(result.stderr)")
        let expected = try #require(
            try JSONDecoder().decode([String: Double].self, from: Data(result.stdout.utf8))["marginal"])
        let torchGradient = try Data(contentsOf: URL(fileURLWithPath: dir.file("grad_marginal.f32"))).withUnsafeBytes {
            Array($0.bindMemory(to: Float.self))
        }

        var voxelMajor = [Float](repeating: 0, count: c * n)
        for v in 0..<n { for k in 0..<c { voxelMajor[v * c + k] = s.values[k * n + v] } }
        var gradient = [Float](repeating: .nan, count: c * n)
        let fused = voxelMajor.withUnsafeBufferPointer { zp in
            gradient.withUnsafeMutableBufferPointer { gp in
                FusedSegmentationLoss(
                    logits: zp.baseAddress!, labels: labels, classCount: c, scale: 1, gradient: gp.baseAddress!,
                    unlabelled: unlabelled)
            }
        }
        #expect(
            abs(fused.dice + fused.crossEntropy - expected) <= 1e-5 * max(1, abs(expected)),
            "\(fused.dice + fused.crossEntropy) vs \(expected)")
        var worst: Float = 0
        var largest: Float = 0
        for v in 0..<n {
            for k in 0..<c {
                worst = max(worst, abs(gradient[v * c + k] - torchGradient[k * n + v]))
                largest = max(largest, abs(torchGradient[k * n + v]))
            }
        }
        #expect(largest > 0)
        #expect(worst <= 1e-4 * largest, "max |Δgradient| \(worst) of \(largest)")
    }

    /// What the marginal loss is for: a voxel labelled background that the network calls the
    /// unlabelled organ costs no more than one it calls background, while a labelled organ
    /// called background still costs.
    @Test func anUnlabelledOrganIsNotTaughtAsBackground() {
        func loss(_ logits: [Float], _ labels: [UInt8], unlabelled: [Bool]?) -> Double {
            var g = [Float](repeating: 0, count: logits.count)
            let r = logits.withUnsafeBufferPointer { z in
                g.withUnsafeMutableBufferPointer {
                    FusedSegmentationLoss(
                        logits: z.baseAddress!, labels: labels, classCount: 3, scale: 1,
                        gradient: $0.baseAddress!, unlabelled: unlabelled)
                }
            }
            return r.crossEntropy
        }
        let callsOrgan2: [Float] = [0, 0, 9]
        let callsBackground: [Float] = [9, 0, 0]
        let partial = [false, false, true]
        #expect(loss(callsOrgan2, [0], unlabelled: nil) > 8)
        #expect(loss(callsOrgan2, [0], unlabelled: partial) < 1e-3)
        #expect(
            abs(loss(callsOrgan2, [0], unlabelled: partial) - loss(callsBackground, [0], unlabelled: partial)) < 1e-3)
        #expect(loss(callsBackground, [1], unlabelled: partial) > 8)
    }
}
