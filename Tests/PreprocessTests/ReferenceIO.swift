import Foundation
import NIfTI
import TestSupport
import Volumes

/// Exchange of voxel arrays with the Python references: raw little-endian files, i fastest
/// (numpy reads them as C-ordered (k, j, i) arrays).
enum ReferenceIO {
    static func writeRaw<T>(_ values: [T], to path: String) throws {
        try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
    }

    static func readRaw<T>(_ type: T.Type, from path: String) throws -> [T] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }

    static var hasNumericPython: Bool { ReferenceTools.hasPythonModules("numpy", "scipy", "nibabel") }
    static var hasTorch: Bool { ReferenceTools.hasPythonModules("numpy", "torch") }
}

/// A smooth, non-symmetric test image, so that a wrong axis or an off-by-one shows.
func smoothImage(_ geometry: Geometry) -> Volume<Float> {
    let s = geometry.size
    var voxels = [Float](repeating: 0, count: s.count)
    for k in 0..<s.k {
        for j in 0..<s.j {
            for i in 0..<s.i {
                let x = Double(i)
                let y = Double(j)
                let z = Double(k)
                voxels[i + s.i * (j + s.j * k)] = Float(
                    100 * sin(x * 0.31 + 0.2 * y) + 40 * cos(y * 0.17) * sin(z * 0.43) + 3 * z + x)
            }
        }
    }
    return Volume(geometry: geometry, voxels: voxels)
}
