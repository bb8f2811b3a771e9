import Dispatch
import Volumes

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// A synthetic abdominal CT with its 16 WORD organ labels on the same grid.
public struct Phantom: Sendable {
    /// Hounsfield units, in dcm2niix's voxel order for an axial head-first supine scan (LAS).
    public var image: Volume<Int16>
    public var labels: Volume<UInt8>
    public var parameters: PhantomParameters
}

/// Generates phantoms: a trunk (skin, fat, muscle, skeleton, lungs, vessels) with the WORD
/// organs at plausible places, shapes deformed by smooth random fields, HU per contrast phase,
/// texture, partial-volume blur and scanner noise. The same options give the same phantom.
public enum PhantomGenerator {
    public static func generate(_ options: PhantomOptions) -> Phantom {
        var rng = SeededGenerator(seed: options.seed)
        var parameters = drawParameters(options, &rng)
        let geometry = grid(parameters, matrix: options.matrix)
        let body = Body(
            halfWidth: parameters.halfWidth, halfDepth: parameters.halfDepth, fat: parameters.subcutaneousFat,
            phase: parameters.phase, texture: SmoothField(wavelength: 25, amplitude: 10, count: 6, using: &rng),
            outline: SmoothField(wavelength: 200, amplitude: 0.04, using: &rng), ribPhase: rng.uniform(0...6))
        var organRng = rng.fork(11)
        let (structures, content) = Organs.structures(
            halfWidth: parameters.halfWidth, halfDepth: parameters.halfDepth,
            habitus: parameters.habitus, using: &organRng)
        parameters.hollowOrganContent = content
        var hu = [Float](repeating: 0, count: geometry.size.count)
        var labels = [UInt8](repeating: 0, count: geometry.size.count)
        var cavity = [Bool](repeating: false, count: geometry.size.count)
        paintBody(body, geometry, &hu, &cavity)
        var hueRng = rng.fork(23)
        for structure in structures {
            paint(
                structure, offset: hueRng.gaussian(sigma: 6), phase: parameters.phase, texture: body.texture,
                geometry, &hu, &labels, cavity)
        }
        blur(&hu, geometry.size, sigma: SIMD3(0.6, 0.6, min(0.8, 1.2 / parameters.sliceSpacing)))
        var noiseRng = rng.fork(37)
        let image = hu.map { value -> Int16 in
            Int16(clamping: Int((Double(value) + noiseRng.gaussian(sigma: parameters.noiseSigma)).rounded()))
        }
        return Phantom(
            image: Volume(geometry: geometry, voxels: image), labels: Volume(geometry: geometry, voxels: labels),
            parameters: parameters)
    }

    static func drawParameters(_ o: PhantomOptions, _ rng: inout SeededGenerator) -> PhantomParameters {
        let habitus = o.habitus ?? rng.uniform(0.85...1.2)
        let halfWidth = 155 * habitus * rng.uniform(0.92...1.08)
        let halfDepth = 108 * habitus * rng.uniform(0.9...1.1)
        let fat = rng.uniform(6...30) * habitus * habitus
        let fov = o.fieldOfView ?? (2 * halfWidth * 1.08 + rng.uniform(20...60))
        let sliceSpacing = o.sliceSpacing ?? [1.5, 2, 2.5, 3, 5][Int(rng.next() % 5)]
        let top = rng.uniform(235...290)
        let bottom = rng.uniform(-195...(-160))
        return PhantomParameters(
            seed: o.seed, phase: o.phase ?? ContrastPhase.allCases[Int(rng.next() % 4)],
            noiseSigma: o.noiseSigma ?? rng.uniform(8...25), habitus: habitus, halfWidth: halfWidth,
            halfDepth: halfDepth,
            subcutaneousFat: fat, fieldOfView: fov, pixelSpacing: fov / Double(o.matrix), sliceSpacing: sliceSpacing,
            zRange: bottom...top)
    }

    /// Axial slices from the bottom of the range up; in-plane axes as dcm2niix orders them
    /// (i towards the patient's left, j towards anterior), the body centred with the table below.
    static func grid(_ p: PhantomParameters, matrix: Int) -> Geometry {
        let slices = Int(((p.zRange.upperBound - p.zRange.lowerBound) / p.sliceSpacing).rounded(.down)) + 1
        let half = p.fieldOfView / 2 - p.pixelSpacing / 2
        return Geometry(
            size: Extent3(matrix, matrix, slices), spacing: [p.pixelSpacing, p.pixelSpacing, p.sliceSpacing],
            origin: [-half, half + 0.12 * p.halfDepth, p.zRange.lowerBound],
            direction: Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1]))
    }

    private static func paintBody(_ body: Body, _ g: Geometry, _ hu: inout [Float], _ cavity: inout [Bool]) {
        let n = g.size
        hu.withUnsafeMutableBufferPointer { huBuffer in
            cavity.withUnsafeMutableBufferPointer { cavityBuffer in
                nonisolated(unsafe) let huOut = huBuffer
                nonisolated(unsafe) let cavityOut = cavityBuffer
                DispatchQueue.concurrentPerform(iterations: n.k) { k in
                    for j in 0..<n.j {
                        for i in 0..<n.i {
                            let s = body.sample(at: g.point(atIndex: SIMD3(Double(i), Double(j), Double(k))))
                            let o = i + n.i * (j + n.j * k)
                            huOut[o] = Float(s.hu)
                            cavityOut[o] = s.cavity
                        }
                    }
                }
            }
        }
    }

    private static func paint(
        _ s: Structure, offset: Double, phase: ContrastPhase, texture: SmoothField, _ g: Geometry,
        _ hu: inout [Float], _ labels: inout [UInt8], _ cavity: [Bool]
    ) {
        let n = g.size
        let (lo, hi) = s.shape.bounds
        // The bounding box's index range (the grid is axis-aligned up to flips).
        let a = g.index(atPoint: lo)
        let b = g.index(atPoint: hi)
        func range(_ axis: Int, _ count: Int) -> Range<Int>? {
            let from = max(0, Int(min(a[axis], b[axis]).rounded(.down)))
            let to = min(count - 1, Int(max(a[axis], b[axis]).rounded(.up)))
            return from <= to ? from..<(to + 1) : nil
        }
        guard let ri = range(0, n.i), let rj = range(1, n.j), let rk = range(2, n.k) else { return }
        let base = s.tissue.hu[phase.index] + offset
        let textureWeight = s.tissue.texture / 8
        hu.withUnsafeMutableBufferPointer { huBuffer in
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                nonisolated(unsafe) let huOut = huBuffer
                nonisolated(unsafe) let labelOut = labelBuffer
                let ks = Array(rk)
                DispatchQueue.concurrentPerform(iterations: ks.count) { kk in
                    let k = ks[kk]
                    for j in rj {
                        for i in ri {
                            let o = i + n.i * (j + n.j * k)
                            // Outside the cavity only for structures allowed there, and never in the air around the body.
                            guard cavity[o] || (s.outsideCavity && huOut[o] > -500) else { continue }
                            if let allowed = s.onlyInside, !allowed.contains(labelOut[o]) { continue }
                            let p = g.point(atIndex: SIMD3(Double(i), Double(j), Double(k)))
                            guard s.shape.contains(p) else { continue }
                            if let label = s.label { labelOut[o] = label }
                            huOut[o] = Float(base + texture.value(at: p) * textureWeight)
                        }
                    }
                }
            }
        }
    }

    /// Separable Gaussian blur (sigma in voxels per axis): the scanner's point spread and the
    /// partial-volume effect of thick slices.
    static func blur(_ data: inout [Float], _ n: Extent3, sigma: SIMD3<Double>) {
        for axis in 0..<3 where sigma[axis] > 0.05 {
            let radius = max(1, Int((3 * sigma[axis]).rounded(.up)))
            let weights = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma[axis] * sigma[axis]))) }
            let total = weights.reduce(0, +)
            let kernel = weights.map { $0 / total }
            let step = axis == 0 ? 1 : axis == 1 ? n.i : n.i * n.j
            let length = n[axis]
            let source = data
            data.withUnsafeMutableBufferPointer { outBuffer in
                nonisolated(unsafe) let out = outBuffer
                source.withUnsafeBufferPointer { inBuffer in
                    nonisolated(unsafe) let input = inBuffer
                    // One line along `axis` per (other two coordinates).
                    let lines = n.count / length
                    DispatchQueue.concurrentPerform(iterations: 16) { part in
                        for line in stride(from: part, to: lines, by: 16) {
                            let start: Int
                            switch axis {
                            case 0: start = line * n.i
                            case 1: start = (line % n.i) + (line / n.i) * n.i * n.j
                            default: start = line
                            }
                            for t in 0..<length {
                                var sum: Float = 0
                                for (m, w) in kernel.enumerated() {
                                    let u = min(max(t + m - radius, 0), length - 1)
                                    sum += w * input[start + u * step]
                                }
                                out[start + t * step] = sum
                            }
                        }
                    }
                }
            }
        }
    }
}
