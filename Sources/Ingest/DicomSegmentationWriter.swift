internal import CDicom
import Foundation
import ModelSpec
import Volumes

/// A label map written back as a binary DICOM Segmentation (DCMTK dcmseg) on the grid of the
/// series it was made from: one segment per organ present, one frame per segment and slice it
/// covers, patient, study and frame of reference taken over from the source series, and each
/// frame referring to its source image when the slices map 1:1.
public enum DicomSegmentationWriter {
    /// Writes `labels` (on the source series' grid) to `path`: a segment for each of `classes`
    /// that has a code (OrganCodes) and voxels.
    public static func write(
        _ labels: Volume<UInt8>, source: DicomSource, classes: [OrganClass], seriesDescription: String,
        seriesNumber: Int, softwareVersion: String, to path: String
    ) throws(DicomWriteError) {
        let labels = source.rowsReversed ? reversingRows(labels) : labels
        let g = labels.geometry
        let d = g.direction
        let normal = SIMD3(d[0, 2], d[1, 2], d[2, 2])
        var positions: [Double] = []
        positions.reserveCapacity(3 * g.size.k)
        for k in 0..<g.size.k {
            let p = g.origin + normal * (g.spacing.z * Double(k))
            positions += [p.x, p.y, p.z]
        }
        let uids = source.sliceInstanceUIDs.flatMap { $0.count == g.size.k ? $0 : nil }
        var message = [CChar](repeating: 0, count: 512)
        // C strings that live through the call.
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func c(_ s: String?) -> UnsafePointer<CChar>? {
            guard let s, let p = strdup(s) else { return nil }
            strings.append(p)
            return UnsafePointer(p)
        }
        let described = classes.compactMap { organ -> cdicom_seg_segment? in
            guard organ.id > 0, organ.id < 256, let (type, laterality) = OrganCodes.code(for: organ.name) else {
                return nil
            }
            let category = OrganCodes.category
            return cdicom_seg_segment(
                label: Int32(organ.id), name: c(organ.name), category_value: c(category.value),
                category_scheme: c(category.scheme), category_meaning: c(category.meaning),
                type_value: c(type.value), type_scheme: c(type.scheme),
                type_meaning: c(type.meaning), modifier_value: c(laterality?.value),
                modifier_scheme: c(laterality?.scheme), modifier_meaning: c(laterality?.meaning))
        }
        let instancePointers: [UnsafePointer<CChar>?]? = uids.map { $0.map { c($0) } }
        let status = positions.withUnsafeBufferPointer { positionBuffer -> Int32 in
            var grid = cdicom_seg_grid(
                rows: Int32(g.size.j), columns: Int32(g.size.i), slices: Int32(g.size.k),
                orientation: (d[0, 0], d[1, 0], d[2, 0], d[0, 1], d[1, 1], d[2, 1]),
                pixel_spacing: (g.spacing.y, g.spacing.x), slice_thickness: g.spacing.z,
                positions: positionBuffer.baseAddress)
            return labels.voxels.withUnsafeBufferPointer { voxels in
                described.withUnsafeBufferPointer { segmentBuffer in
                    func call(_ instances: UnsafePointer<UnsafePointer<CChar>?>?) -> Int32 {
                        cdicom_write_seg(
                            source.file, instances, &grid, voxels.baseAddress, segmentBuffer.baseAddress,
                            Int32(segmentBuffer.count),
                            seriesDescription, Int32(seriesNumber), softwareVersion, path, &message, message.count)
                    }
                    guard let instancePointers else { return call(nil) }
                    return instancePointers.withUnsafeBufferPointer { call($0.baseAddress) }
                }
            }
        }
        guard status == 0 else {
            throw DicomWriteError(
                path: path,
                reason: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}

extension DicomSegmentationWriter {
    /// The same voxels and patient positions with rows in the opposite order: the source
    /// images' own layout when ingest reversed it.
    static func reversingRows(_ v: Volume<UInt8>) -> Volume<UInt8> {
        var g = v.geometry
        let n = g.size
        g.origin = g.point(atIndex: [0, Double(n.j - 1), 0])
        g.direction = Matrix3(columns: g.direction[0], -g.direction[1], g.direction[2])
        var voxels = [UInt8](repeating: 0, count: v.voxels.count)
        for k in 0..<n.k {
            for j in 0..<n.j {
                let from = (k * n.j + j) * n.i
                let to = (k * n.j + (n.j - 1 - j)) * n.i
                voxels[to..<(to + n.i)] = v.voxels[from..<(from + n.i)]
            }
        }
        return Volume(geometry: g, voxels: voxels)
    }
}

/// A DICOM result that could not be written: the file and the reason.
public struct DicomWriteError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}
