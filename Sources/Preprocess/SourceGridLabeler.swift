import Volumes

/// Takes class scores on the prepared grid back to labels on the scan's own grid: for every
/// scan voxel inside the body box, trilinear interpolation of each class's score at the
/// voxel's prepared-grid position, then argmax (so a thin organ that covers no prepared voxel
/// centre can still win where its score rises); voxels outside the box are background. The
/// reorientation, crop and resampling are undone in the same step, since the record's map
/// relates each scan index directly to a prepared index.
///
/// Slab-wise: the scan is labelled in slabs of `sourceSlabDepth` k-planes. Feed prepared
/// planes in order with `add(_:)` (as a streaming merger finalizes them); each scan slab is
/// labelled as soon as every prepared plane it reads has arrived, and planes no pending slab
/// still needs are dropped. When the scan's k axis runs along the prepared k axis (axial scans
/// and models that keep S/I along k) the planes held at any time are those of one scan slab
/// plus the slab being fed; otherwise every plane is held until the end.
///
/// Memory: the labels (1 byte per scan voxel), the held score planes, one argmax byte per held
/// prepared voxel, and for a slab that spans two fed slabs a copy of the planes it reads; with
/// `keepsPreparedLabels`, one more byte per prepared voxel for the argmax on the prepared grid.
public final class SourceGridLabeler {
    public let record: PreparationRecord
    public let classCount: Int
    public let threads: Int
    public let sourceSlabDepth: Int
    /// Planes received so far (the next `add` must start here).
    public private(set) var receivedPlanes = 0
    /// The winning class at every prepared voxel fed so far (i fastest, planes in order), kept
    /// when asked for: the segmentation on the grid the network saw, for the distillation cache.
    public private(set) var preparedLabels: [UInt8]?

    private var labels: [UInt8]
    private var held: [HeldSlab] = []
    private var pending: [Range<Int>]
    private let taps: [SourceAxisTaps]

    public init(
        record: PreparationRecord, classCount: Int, threads: Int = 1, sourceSlabDepth: Int = 16,
        keepsPreparedLabels: Bool = false
    ) {
        precondition(classCount > 0 && classCount <= 256, "labels are bytes: 1...256 classes")
        if keepsPreparedLabels {
            preparedLabels = []
            preparedLabels?.reserveCapacity(record.preparedSize.count)
        }
        self.record = record
        self.classCount = classCount
        self.threads = max(1, threads)
        self.sourceSlabDepth = max(1, sourceSlabDepth)
        labels = [UInt8](repeating: 0, count: record.sourceGeometry.size.count)
        pending = Parallel.chunks(record.sourceGeometry.size.k, grain: self.sourceSlabDepth)
        taps = (0..<3).map { SourceAxisTaps(record: record, sourceAxis: $0) }
        // Slabs entirely outside the body box stay background.
        pending.removeAll { requiredPlanes(forSource: $0) == nil }
    }

    /// The prepared planes a scan slab reads, or nil when it lies outside the body box.
    public func requiredPlanes(forSource k: Range<Int>) -> Range<Int>? {
        guard taps[2].preparedSpan(k) != nil else { return nil }
        // The scan axis that runs along the prepared k axis.
        let p = record.map.sourceAxis[2]
        let span = p == 2 ? taps[2].preparedSpan(k) : taps[p].preparedSpan(0..<record.sourceGeometry.size[p])
        return span.map { $0.lowerBound..<($0.upperBound + 1) }
    }

    /// Adds the next prepared planes and labels every scan slab they complete.
    public func add(_ slab: ScoreSlab) throws {
        let prepared = record.preparedSize
        guard slab.classCount == classCount, slab.size.i == prepared.i, slab.size.j == prepared.j else {
            throw PreprocessError(
                "score slab of \(slab.classCount) classes × \(slab.size.j) × \(slab.size.i) does not fit \(classCount) classes on a \(prepared) prepared grid"
            )
        }
        guard slab.slices.lowerBound == receivedPlanes, slab.slices.upperBound <= prepared.k else {
            throw PreprocessError(
                "score planes \(slab.slices) arrive out of order: expected from plane \(receivedPlanes) of \(prepared.k)"
            )
        }
        guard slab.slices.count > 0 else { return }
        let heldSlab = HeldSlab(slab, threads: threads)
        preparedLabels?.append(contentsOf: heldSlab.argmax)
        held.append(heldSlab)
        receivedPlanes = slab.slices.upperBound
        labelReadySlabs()
    }

    /// The labels on the scan's grid, once every prepared plane has been added.
    /// - Parameter pieces: with `largestComponentPerOrgan`, the components kept per label
    ///   (LargestComponent; 1 where not given, 0 to leave a label alone); `lowest` marks the
    ///   labels that keep their lowest pieces instead.
    public func finish(largestComponentPerOrgan: Bool = false, pieces: [Int] = [], lowest: [Bool] = []) throws
        -> Volume<UInt8>
    {
        guard pending.isEmpty else {
            throw PreprocessError("scores end at prepared plane \(receivedPlanes) of \(record.preparedSize.k)")
        }
        held.removeAll()
        var volume = Volume(geometry: record.sourceGeometry, voxels: labels)
        labels = []
        if largestComponentPerOrgan {
            LargestComponent.keepLargestPerLabel(&volume, threads: threads, pieces: pieces, lowest: lowest)
        }
        return volume
    }

    /// Labels the scan through a provider that hands out prepared planes on request.
    public func run(pulling provider: some PreparedScoreProvider) throws {
        precondition(preparedLabels == nil, "prepared labels are kept only when planes are fed in order by add(_:)")
        guard provider.classCount == classCount else {
            throw PreprocessError("the provider has \(provider.classCount) classes, expected \(classCount)")
        }
        for source in pending {
            guard let need = requiredPlanes(forSource: source) else { continue }
            let slab = try provider.scores(preparedK: need)
            guard slab.slices == need, slab.classCount == classCount else {
                throw PreprocessError("the provider returned planes \(slab.slices) for a request of \(need)")
            }
            label(source, window: HeldSlab(slab, threads: threads))
        }
        pending.removeAll()
        receivedPlanes = record.preparedSize.k
    }

    private func labelReadySlabs() {
        var remaining = [Range<Int>]()
        let available = (held.first?.slab.slices.lowerBound ?? 0)..<receivedPlanes
        for source in pending {
            let need = requiredPlanes(forSource: source)!
            if need.lowerBound >= available.lowerBound && need.upperBound <= available.upperBound {
                label(source, window: window(need))
            } else {
                remaining.append(source)
            }
        }
        pending = remaining
        let keepFrom = pending.map { requiredPlanes(forSource: $0)!.lowerBound }.min() ?? Int.max
        held.removeAll { $0.slab.slices.upperBound <= keepFrom }
    }

    /// The held planes `need` as one slab: a held slab itself when one covers them, else a copy.
    private func window(_ need: Range<Int>) -> HeldSlab {
        if let whole = held.first(where: {
            $0.slab.slices.lowerBound <= need.lowerBound && $0.slab.slices.upperBound >= need.upperBound
        }) {
            return whole
        }
        let plane = record.preparedSize.i * record.preparedSize.j
        var scores = [Float](repeating: 0, count: classCount * need.count * plane)
        var argmax = [UInt8](repeating: 0, count: need.count * plane)
        for part in held {
            // Held slabs that miss `need` entirely would make an inverted range: skip them first.
            let lower = max(part.slab.slices.lowerBound, need.lowerBound)
            let upper = min(part.slab.slices.upperBound, need.upperBound)
            guard lower < upper else { continue }
            let overlap = lower..<upper
            let from = (overlap.lowerBound - part.slab.slices.lowerBound) * plane
            let to = (overlap.lowerBound - need.lowerBound) * plane
            let n = overlap.count * plane
            for c in 0..<classCount {
                let src = c * part.slab.channelStride + from
                let dst = c * need.count * plane + to
                scores[dst..<(dst + n)] = part.slab.scores[src..<(src + n)]
            }
            argmax[to..<(to + n)] = part.argmax[from..<(from + n)]
        }
        let slab = ScoreSlab(
            slices: need, size: Extent3(record.preparedSize.i, record.preparedSize.j, need.count),
            classCount: classCount, scores: scores)
        return HeldSlab(slab: slab, argmax: argmax)
    }

    /// Labels the scan planes `source` from prepared planes held in `window`.
    private func label(_ source: Range<Int>, window: HeldSlab) {
        let size = record.sourceGeometry.size
        let prepared = record.preparedSize
        let strides = [1, prepared.i, prepared.i * prepared.j]
        let kBase = window.slab.slices.lowerBound
        // Per scan axis: offsets into the window of the two prepared voxels it lies between.
        let offsets = (0..<3).map { p -> (lower: [Int], upper: [Int]) in
            let a = record.map.derivedAxis[p]
            let shift = a == 2 ? kBase : 0
            return (taps[p].lower.map { ($0 - shift) * strides[a] }, taps[p].upper.map { ($0 - shift) * strides[a] })
        }
        let (t0, t1, t2) = (taps[0], taps[1], taps[2])
        let (o0, o1, o2) = (offsets[0], offsets[1], offsets[2])
        let classes = classCount
        let channel = window.slab.channelStride
        // Prepared indices that scan axis i reads, along the prepared axis it runs along.
        let stride0 = strides[record.map.derivedAxis[0]]
        let insideI = (0..<size.i).filter { t0.inside[$0] }
        let qRange = (insideI.map { t0.lower[$0] }.min() ?? 0)..<((insideI.map { t0.upper[$0] }.max() ?? -1) + 1)
        let lastQ = max(qRange.upperBound, 1)
        labels.withUnsafeMutableBufferPointer { out in
            let out = out
            window.slab.scores.withUnsafeBufferPointer { scores in
                window.argmax.withUnsafeBufferPointer { argmax in
                    Parallel.forEach(source.count, threads: threads) { n in
                        let k = source.lowerBound + n
                        guard t2.inside[k] else { return }
                        let wk = t2.weight[k]
                        // Per prepared index q along scan i: the class that wins at all four
                        // corner rows of this scan row, or none (0xFFFF).
                        var uniform = [UInt16](repeating: 0xFFFF, count: lastQ)
                        for j in 0..<size.j where t1.inside[j] {
                            let wj = t1.weight[j]
                            let b00 = o1.lower[j] + o2.lower[k]
                            let b10 = o1.upper[j] + o2.lower[k]
                            let b01 = o1.lower[j] + o2.upper[k]
                            let b11 = o1.upper[j] + o2.upper[k]
                            let w00 = (1 - wj) * (1 - wk)
                            let w10 = wj * (1 - wk)
                            let w01 = (1 - wj) * wk
                            let w11 = wj * wk
                            let row = size.i * (j + size.j * k)
                            for q in qRange {
                                let o = q * stride0
                                let a = argmax[b00 + o]
                                uniform[q] =
                                    argmax[b10 + o] == a && argmax[b01 + o] == a && argmax[b11 + o] == a
                                    ? UInt16(a) : 0xFFFF
                            }
                            for i in insideI {
                                // Where one class wins at all eight corners it wins everywhere
                                // between them, so the interpolation can be skipped exactly.
                                let u = uniform[t0.lower[i]]
                                if u != 0xFFFF && u == uniform[t0.upper[i]] {
                                    out[row + i] = UInt8(u)
                                    continue
                                }
                                let i0 = o0.lower[i]
                                let i1 = o0.upper[i]
                                let corners = (
                                    b00 + i0, b10 + i0, b01 + i0, b11 + i0, b00 + i1, b10 + i1, b01 + i1, b11 + i1
                                )
                                let wi = t0.weight[i]
                                var best = -Float.infinity
                                var winner: UInt8 = 0
                                for c in 0..<classes {
                                    let s = scores.baseAddress! + c * channel
                                    let lo =
                                        w00 * s[corners.0] + w10 * s[corners.1] + w01 * s[corners.2] + w11
                                        * s[corners.3]
                                    let hi =
                                        w00 * s[corners.4] + w10 * s[corners.5] + w01 * s[corners.6] + w11
                                        * s[corners.7]
                                    let v = (1 - wi) * lo + wi * hi
                                    if v > best {
                                        best = v
                                        winner = UInt8(c)
                                    }
                                }
                                out[row + i] = winner
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A slab of fed scores and the winning class at each of its prepared voxels.
struct HeldSlab {
    var slab: ScoreSlab
    var argmax: [UInt8]

    init(slab: ScoreSlab, argmax: [UInt8]) {
        self.slab = slab
        self.argmax = argmax
    }

    init(_ slab: ScoreSlab, threads: Int) {
        self.init(slab: slab, argmax: slab.argmax(threads: threads))
    }
}
