import Volumes

/// Keeps, for every label, only its largest 6-connected component (or its `pieces` largest: the
/// two adrenal glands share one label; 0 leaves a label alone, as bowel loops are many); the
/// rest becomes background.
///
/// A label in `lowest` keeps instead its lowest pieces (by centre, towards the feet) among
/// those at least `lowestMinimumFraction` of its largest: an organ whose place is below its
/// look-alikes (the bladder under fluid-filled bowel loops) keeps its place, not its size,
/// while small islands still cannot win.
///
/// Each label is searched inside its own bounding box with one byte of state per box voxel and
/// a queue of the component being grown, never a full-size component map: memory is about
/// 1 byte per voxel of the largest organ's box plus 4 bytes per voxel of its largest piece,
/// times the threads. Labels are searched in parallel; voxels are cleared afterwards.
public enum LargestComponent {
    /// - Parameters:
    ///   - pieces: components to keep per label value (1 where the array is short).
    ///   - lowest: per label value, whether it keeps its lowest pieces (false where short).
    public static func keepLargestPerLabel(
        _ labels: inout Volume<UInt8>, threads: Int = 1, pieces: [Int] = [], lowest: [Bool] = []
    ) {
        let size = labels.geometry.size
        guard size.count > 0 else { return }
        let boxes = labelBoxes(labels, threads: threads)
        func keep(_ label: Int) -> Int { label < pieces.count ? pieces[label] : 1 }
        let geometry = labels.geometry
        // Height (LPS z, towards the head) of a box-local centre, for the labels that keep their lowest.
        func height(_ box: CropBox) -> (SIMD3<Double>) -> Double {
            { geometry.point(atIndex: $0 + SIMD3(Double(box.lower[0]), Double(box.lower[1]), Double(box.lower[2]))).z }
        }
        let present = (1..<256).filter { boxes[$0] != nil && keep($0) > 0 }
        var removals = [[Int]](repeating: [], count: present.count)
        labels.voxels.withUnsafeBufferPointer { voxels in
            removals.withUnsafeMutableBufferPointer { out in
                let out = out
                Parallel.forEach(present.count, threads: threads) { n in
                    let label = present[n]
                    let box = boxes[label]!
                    out[n] = strayVoxels(
                        of: UInt8(label), in: voxels, size: size, box: box, keep: keep(label),
                        height: label < lowest.count && lowest[label] ? height(box) : nil)
                }
            }
        }
        for list in removals { for offset in list { labels.voxels[offset] = 0 } }
    }

    /// Bounding box of every label value, nil where absent.
    static func labelBoxes(_ labels: Volume<UInt8>, threads: Int) -> [CropBox?] {
        let size = labels.geometry.size
        var perPlane = [[CropBox?]](repeating: [], count: size.k)
        labels.voxels.withUnsafeBufferPointer { v in
            perPlane.withUnsafeMutableBufferPointer { out in
                let out = out
                Parallel.forEach(size.k, threads: threads) { k in
                    // Per label: min i, max i, min j, max j in this plane.
                    var bounds = [Int](repeating: 0, count: 256 * 4)
                    for l in 0..<256 {
                        bounds[4 * l] = Int.max
                        bounds[4 * l + 1] = -1
                        bounds[4 * l + 2] = Int.max
                        bounds[4 * l + 3] = -1
                    }
                    for j in 0..<size.j {
                        let row = size.i * (j + size.j * k)
                        for i in 0..<size.i {
                            let l = Int(v[row + i])
                            guard l != 0 else { continue }
                            let b = 4 * l
                            if i < bounds[b] { bounds[b] = i }
                            if i > bounds[b + 1] { bounds[b + 1] = i }
                            if j < bounds[b + 2] { bounds[b + 2] = j }
                            if j > bounds[b + 3] { bounds[b + 3] = j }
                        }
                    }
                    out[k] = (0..<256).map { l in
                        bounds[4 * l + 1] < 0
                            ? nil
                            : CropBox(
                                lower: [bounds[4 * l], bounds[4 * l + 2], k],
                                upper: [bounds[4 * l + 1] + 1, bounds[4 * l + 3] + 1, k + 1])
                    }
                }
            }
        }
        var boxes = [CropBox?](repeating: nil, count: 256)
        for plane in perPlane {
            for (l, box) in plane.enumerated() {
                guard let box else { continue }
                boxes[l] =
                    boxes[l].map { old in
                        CropBox(
                            lower: zip(old.lower, box.lower).map { min($0, $1) },
                            upper: zip(old.upper, box.upper).map { max($0, $1) })
                    } ?? box
            }
        }
        return boxes
    }

    /// Pieces smaller than this fraction of a label's largest never count as its lowest.
    static let lowestMinimumFraction = 0.25

    /// Offsets (in the whole volume) of the voxels of `label` outside its `keep` largest
    /// components, or with `height` (of a box-local centre) its `keep` lowest of those not much
    /// smaller than the largest.
    static func strayVoxels(
        of label: UInt8, in voxels: UnsafeBufferPointer<UInt8>, size: Extent3, box: CropBox, keep: Int = 1,
        height: ((SIMD3<Double>) -> Double)? = nil
    ) -> [Int] {
        let n = box.size
        let (ni, nj, nk) = (n.i, n.j, n.k)
        // 0 unvisited, 1 seen, 2 in the kept component.
        var state = [UInt8](repeating: 0, count: n.count)
        var queue = [Int32]()

        // Grows the component of `seed` over voxels of `label` in state `mark − 1`, marking them;
        // returns its size and its box-local centre.
        func grow(from seed: Int, mark: UInt8) -> (size: Int, centre: SIMD3<Double>) {
            let before = mark - 1
            queue.removeAll(keepingCapacity: true)
            queue.append(Int32(seed))
            state[seed] = mark
            var head = 0
            // Index sums for the centre, from the indices the search computes anyway.
            var sum = (i: 0, j: 0, k: 0)
            while head < queue.count {
                let v = Int(queue[head])
                head += 1
                let i = v % ni
                let j = (v / ni) % nj
                let k = v / (ni * nj)
                sum = (sum.i + i, sum.j + j, sum.k + k)
                let g = (box.lower[0] + i) + size.i * ((box.lower[1] + j) + size.j * (box.lower[2] + k))
                func visit(_ local: Int, _ step: Int) {
                    let w = v + local
                    if state[w] == before && voxels[g + step] == label {
                        state[w] = mark
                        queue.append(Int32(w))
                    }
                }
                if i > 0 { visit(-1, -1) }
                if i < ni - 1 { visit(1, 1) }
                if j > 0 { visit(-ni, -size.i) }
                if j < nj - 1 { visit(ni, size.i) }
                if k > 0 { visit(-ni * nj, -size.sliceCount) }
                if k < nk - 1 { visit(ni * nj, size.sliceCount) }
            }
            return (queue.count, SIMD3(Double(sum.i), Double(sum.j), Double(sum.k)) / Double(queue.count))
        }

        // Calls `body(local, global)` for every voxel of the box, in raster order.
        func forEachVoxel(_ body: (Int, Int) -> Void) {
            for k in 0..<nk {
                for j in 0..<nj {
                    let local = ni * (j + nj * k)
                    let g = box.lower[0] + size.i * ((box.lower[1] + j) + size.j * (box.lower[2] + k))
                    for i in 0..<ni { body(local + i, g + i) }
                }
            }
        }

        var components: [(count: Int, seed: Int, centre: SIMD3<Double>)] = []
        forEachVoxel { v, g in
            guard state[v] == 0 && voxels[g] == label else { return }
            let piece = grow(from: v, mark: 1)
            components.append((piece.size, v, piece.centre))
        }
        guard components.count > keep else { return [] }
        // The largest first; among equal sizes the first in raster order, as before.
        var ranked = components.enumerated().sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }
            .map(\.element)
        if let height {
            let floor = Double(ranked[0].count) * lowestMinimumFraction
            ranked = ranked.filter { Double($0.count) >= floor }.sorted { height($0.centre) < height($1.centre) }
        }
        for c in ranked.prefix(keep) { _ = grow(from: c.seed, mark: 2) }
        var stray = [Int]()
        forEachVoxel { v, g in if state[v] == 1 { stray.append(g) } }
        return stray
    }
}
