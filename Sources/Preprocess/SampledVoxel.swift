/// Voxel types the resampler reads: CT in Int16 HU, labels in UInt8, maps in Float.
public protocol SampledVoxel: Sendable {
    var sampleValue: Float { get }
}

extension Int16: SampledVoxel { @inlinable public var sampleValue: Float { Float(self) } }
extension UInt8: SampledVoxel { @inlinable public var sampleValue: Float { Float(self) } }
extension Float: SampledVoxel { @inlinable public var sampleValue: Float { self } }
