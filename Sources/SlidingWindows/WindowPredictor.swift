import Volumes

/// A network applied to one window.
public protocol WindowPredictor {
    /// Number of output channels (classes).
    var classCount: Int { get }
    /// `input`: one channel, `windowSize.count` values (1×1×D×H×W, W fastest).
    /// `output`: `classCount × windowSize.count` values (C×D×H×W, W fastest), overwritten.
    func predict(
        _ input: UnsafeBufferPointer<Float>, windowSize: Extent3, into output: UnsafeMutableBufferPointer<Float>) throws
}

/// Where window inputs come from: copies a box of the prepared volume into a buffer, filling
/// voxels outside the volume with a padding value.
public protocol WindowSource {
    var size: Extent3 { get }
    func read(origin: SIMD3<Int>, size: Extent3, into buffer: UnsafeMutableBufferPointer<Float>)
}

/// A window source over a prepared volume held in memory.
public struct VolumeWindowSource: WindowSource {
    public let volume: Volume<Float>
    public let padding: Float

    public init(volume: Volume<Float>, padding: Float) {
        self.volume = volume
        self.padding = padding
    }

    public var size: Extent3 { volume.size }

    public func read(origin: SIMD3<Int>, size box: Extent3, into buffer: UnsafeMutableBufferPointer<Float>) {
        let n = volume.size
        volume.voxels.withUnsafeBufferPointer { src in
            var o = 0
            for k in 0..<box.k {
                let z = origin.z + k
                for j in 0..<box.j {
                    let y = origin.y + j
                    let rowInside = z >= 0 && z < n.k && y >= 0 && y < n.j
                    for i in 0..<box.i {
                        let x = origin.x + i
                        buffer[o] = rowInside && x >= 0 && x < n.i ? src[x + n.i * (y + n.j * z)] : padding
                        o += 1
                    }
                }
            }
        }
    }
}
