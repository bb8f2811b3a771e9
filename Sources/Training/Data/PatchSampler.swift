import Foundation

/// Draws training windows from prepared volumes. Two in three windows are centred on a voxel of
/// an organ drawn uniformly among the organs present (so small organs, such as the adrenal glands
/// and the gallbladder, are seen as often as the liver); the rest are centred anywhere. A window
/// is then shifted to lie inside the volume, as inference's windows do (they never cross the
/// volume's edge), so training sees the volume's edges as inference does (padding with air
/// showed the femoral heads, in the lowest 60 mm of every phantom, above air no scan has; the
/// heads' poor Dice turned out to be mostly the phantom's cut labels, fixed in the generator).
/// Only along an axis shorter than the window is the rest padded with the volume's minimum.
struct PatchSampler {
    /// The pool; Trainer replaces members as its PhantomRefresh says.
    var volumes: [TrainingVolume]
    /// D, H, W
    let window: [Int]
    var rng: SplitMix
    let foregroundFraction = 2.0 / 3.0
    var caseAugmentation = CaseAugmentation()
    /// Applied to every window drawn (nil: the windows as prepared).
    let augmentation: IntensityAugmentation?

    init(volumes: [TrainingVolume], window: [Int], seed: UInt64, augmentation: IntensityAugmentation? = nil) {
        self.volumes = volumes
        self.window = window
        rng = SplitMix(seed: seed)
        self.augmentation = augmentation
    }

    struct Patch {
        var image: [Float]
        var labels: [UInt8]
        /// The volume's partial labels (TrainingVolume.unlabelled).
        var unlabelled: [Bool]?
    }

    mutating func next() -> Patch {
        let volume = volumes[Int(rng.next() % UInt64(volumes.count))]
        let size = volume.size
        var centre: (Int, Int, Int)
        let organs = (1..<volume.voxelsOfClass.count).filter { !volume.voxelsOfClass[$0].isEmpty }
        if !organs.isEmpty && rng.uniform() < foregroundFraction {
            let list = volume.voxelsOfClass[organs[Int(rng.next() % UInt64(organs.count))]]
            let v = Int(list[Int(rng.next() % UInt64(list.count))])
            centre = (v % size.i, (v / size.i) % size.j, v / (size.i * size.j))
        } else {
            centre = (
                Int(rng.next() % UInt64(size.i)), Int(rng.next() % UInt64(size.j)), Int(rng.next() % UInt64(size.k))
            )
        }
        // Jitter the centre so an organ does not always sit in the middle of the window.
        let (d, h, w) = (window[0], window[1], window[2])
        func start(_ c: Int, _ extent: Int, _ length: Int) -> Int {
            let jitter = Int(rng.next() % UInt64(max(1, extent / 2))) - extent / 4
            return c - extent / 2 + jitter
        }
        /// The window's first index, moved inside [0, length − extent] (0 where the volume is shorter).
        func inside(_ first: Int, _ extent: Int, _ length: Int) -> Int { max(0, min(first, length - extent)) }
        let k0 = inside(start(centre.2, d, size.k), d, size.k)
        let j0 = inside(start(centre.1, h, size.j), h, size.j)
        let i0 = inside(start(centre.0, w, size.i), w, size.i)
        if let axis = volume.caseLeftRightAxis {
            // A dataset's fixed case: the same window, sampled through nnU-Net's spatial augmentation.
            let middle = SIMD3<Double>(
                Double(i0) + Double(w - 1) / 2, Double(j0) + Double(h - 1) / 2, Double(k0) + Double(d - 1) / 2)
            var (image, labels) = caseAugmentation.patch(
                of: volume, centre: middle, window: window, leftRightAxis: axis >= 0 ? axis : nil, rng: &rng)
            augmentation?.apply(&image, depth: d, height: h, width: w, rng: &rng)
            return Patch(image: image, labels: labels, unlabelled: volume.unlabelled)
        }
        let floor = volume.minimum
        var image = [Float](repeating: floor, count: d * h * w)
        var labels = [UInt8](repeating: 0, count: d * h * w)
        for z in 0..<d {
            let k = k0 + z
            guard k >= 0 && k < size.k else { continue }
            for y in 0..<h {
                let j = j0 + y
                guard j >= 0 && j < size.j else { continue }
                let row = i0..<(i0 + w)
                let clipped = row.clamped(to: 0..<size.i)
                guard !clipped.isEmpty else { continue }
                let src = clipped.lowerBound + size.i * (j + size.j * k)
                let dst = (z * h + y) * w + (clipped.lowerBound - i0)
                for x in 0..<clipped.count {
                    image[dst + x] = volume.image[src + x]
                    labels[dst + x] = volume.labels[src + x]
                }
            }
        }
        augmentation?.apply(&image, depth: d, height: h, width: w, rng: &rng)
        return Patch(image: image, labels: labels, unlabelled: volume.unlabelled)
    }
}
