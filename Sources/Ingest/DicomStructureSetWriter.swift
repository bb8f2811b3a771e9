internal import CDicom
import Foundation
import ModelSpec
import Volumes

/// A label map written back as an RT Structure Set (DCMTK dcmrt) for radiotherapy planning: one
/// ROI per organ present (interpreted type ORGAN, the WORD name, the preview's colour), on each
/// slice the organ's outlines as closed planar contours a quarter pixel inside its border (PlanarContours:
/// holes are contours inside contours), each referring to its source image when the slices map
/// 1:1 to the source series.
public enum DicomStructureSetWriter {
    public static func write(
        _ labels: Volume<UInt8>, source: DicomSource, classes: [OrganClass], seriesNumber: Int,
        softwareVersion: String, to path: String
    ) throws(DicomWriteError) {
        let g = labels.geometry
        let n = g.size
        struct ROI {
            var organ: OrganClass
            var slices: [Int32] = []
            var counts: [Int32] = []
            var points: [Double] = []
        }
        var rois: [ROI] = []
        for organ in classes where organ.id > 0 && organ.id < 256 {
            let value = UInt8(organ.id)
            var roi = ROI(organ: organ)
            for k in 0..<n.k {
                let base = k * n.i * n.j
                guard labels.voxels[base..<(base + n.i * n.j)].contains(value) else { continue }
                let loops = PlanarContours.loops(
                    { r, c in labels.voxels[base + r * n.i + c] == value }, rows: n.j, columns: n.i)
                for loop in loops {
                    roi.slices.append(Int32(k))
                    roi.counts.append(Int32(loop.count))
                    for p in loop {
                        let mm = g.point(atIndex: [p.x, p.y, Double(k)])
                        roi.points += [mm.x, mm.y, mm.z]
                    }
                }
            }
            if !roi.slices.isEmpty { rois.append(roi) }
        }
        let uids = source.sliceInstanceUIDs.flatMap { $0.count == n.k ? $0 : nil }
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func c(_ s: String) -> UnsafePointer<CChar>? {
            guard let p = strdup(s) else { return nil }
            strings.append(p)
            return UnsafePointer(p)
        }
        var message = [CChar](repeating: 0, count: 512)
        let instancePointers: [UnsafePointer<CChar>?]? = uids.map { $0.map { c($0) } }
        // Each ROI's arrays stay alive (and in place) through the call.
        let status: Int32 = withArrays(rois.map(\.slices), rois.map(\.counts), rois.map(\.points)) {
            slices, counts, points in
            let described = rois.indices.map { i -> cdicom_rt_roi in
                let color = rois[i].organ.color + [0, 0, 0]
                return cdicom_rt_roi(
                    number: Int32(rois[i].organ.id), name: c(rois[i].organ.name), color: (color[0], color[1], color[2]),
                    contour_count: Int32(rois[i].slices.count), contour_slices: slices[i],
                    contour_point_counts: counts[i],
                    points: points[i])
            }
            return described.withUnsafeBufferPointer { roiBuffer in
                func call(_ instances: UnsafePointer<UnsafePointer<CChar>?>?) -> Int32 {
                    cdicom_write_rtstruct(
                        source.file, instances, Int32(n.k), roiBuffer.baseAddress, Int32(roiBuffer.count),
                        Int32(seriesNumber), softwareVersion, path, &message, message.count)
                }
                guard let instancePointers else { return call(nil) }
                return instancePointers.withUnsafeBufferPointer { call($0.baseAddress) }
            }
        }
        guard status == 0 else {
            throw DicomWriteError(
                path: path,
                reason: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// Pointers to each array's storage, valid inside `body` (the arrays are copied once into
    /// buffers that live until it returns).
    static func withArrays<R>(
        _ a: [[Int32]], _ b: [[Int32]], _ c: [[Double]],
        _ body: ([UnsafePointer<Int32>], [UnsafePointer<Int32>], [UnsafePointer<Double>]) -> R
    ) -> R {
        func copy<T>(_ arrays: [[T]]) -> [UnsafeMutableBufferPointer<T>] {
            arrays.map { array in
                let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
                _ = buffer.initialize(from: array)
                return buffer
            }
        }
        let (x, y, z) = (copy(a), copy(b), copy(c))
        defer {
            (x.map { UnsafeMutableRawBufferPointer($0) } + y.map { UnsafeMutableRawBufferPointer($0) }
                + z.map { UnsafeMutableRawBufferPointer($0) }).forEach { $0.deallocate() }
        }
        return body(
            x.map { UnsafePointer($0.baseAddress!) }, y.map { UnsafePointer($0.baseAddress!) },
            z.map { UnsafePointer($0.baseAddress!) })
    }
}
