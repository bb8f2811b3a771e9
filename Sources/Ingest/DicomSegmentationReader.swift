internal import CDicom
import Foundation
import Volumes

/// A DICOM Segmentation (binary or fractional; DCMTK dcmseg) laid onto a scan's grid as a label
/// map: how a site's contours exported as SEG become training or evaluation labels. Each frame
/// must lie on the scan's grid pixel for pixel (a SEG made on that series does); the headers are
/// checked before dcmseg reads the frames, so no allocation follows an unchecked field.
public enum DicomSegmentationReader {
    /// One segment's names, as the file gives them.
    public struct Segment: Sendable, Equatable {
        public var number: Int
        /// Segment Label.
        public var label: String
        /// The Segmented Property Type's Code Meaning ("Kidney"), and its modifier's ("Left").
        public var typeMeaning: String
        public var modifierMeaning: String
    }

    /// The file's segments, and the label map: each voxel a segment covers holds the value
    /// `value(segment)` gives (segments it gives nil are left out; where segments overlap, the
    /// higher segment number wins).
    public static func read(
        _ path: String, onto geometry: Geometry,
        value: (Segment) -> UInt8?
    ) throws -> (segments: [Segment], labels: Volume<UInt8>) {
        let headers = try DicomFile(path: path, headersOnly: true)
        let a = try headers.attributes()
        guard a.modality == "SEG" else {
            throw PathError<DicomSegmentationReader>(
                path: path, reason: "not a DICOM Segmentation (modality \(a.modality.isEmpty ? "absent" : a.modality))")
        }
        do {
            try Plausibility.checkImage(rows: a.rows, columns: a.columns, frames: 1, path: path)
            try Plausibility.checkVoxelCount([a.rows, a.columns, a.numberOfFrames], path: path)
        } catch { throw IngestError(error) }
        let needed = (a.rows * a.columns * a.numberOfFrames * a.bitsAllocated + 7) / 8
        guard [1, 8].contains(a.bitsAllocated), a.numberOfFrames >= 1, let stored = a.pixelDataBytes, stored >= needed
        else {
            throw PathError<DicomSegmentationReader>(
                path: path,
                reason:
                    "\(a.numberOfFrames) frames of \(a.columns)×\(a.rows) at \(a.bitsAllocated) bits need \(needed) bytes of native pixel data; the file has \(a.pixelDataBytes.map(String.init) ?? "none or compressed")"
            )
        }

        var handle: OpaquePointer?
        var info = cdicom_seg_info()
        var message = [CChar](repeating: 0, count: 512)
        guard cdicom_seg_open(path, Int32(a.rows), Int32(a.columns), &handle, &info, &message, message.count) == 0,
            let handle
        else {
            throw IngestError(.corrupt, path: path, detail: text(of: message))
        }
        defer { cdicom_seg_close(handle) }
        guard Int(info.frame_count) == a.numberOfFrames else {
            throw PathError<DicomSegmentationReader>(
                path: path, reason: "dcmseg reads \(info.frame_count) frames, the header says \(a.numberOfFrames)")
        }

        var segments: [Segment] = []
        for number in stride(from: 1, through: Int(info.segment_count), by: 1) {
            var s = cdicom_seg_segment_info()
            guard cdicom_seg_read_segment(handle, Int32(number), &s, &message, message.count) == 0 else {
                throw IngestError(.corrupt, path: path, detail: text(of: message))
            }
            segments.append(
                Segment(
                    number: number, label: string(&s.label), typeMeaning: string(&s.type_meaning),
                    modifierMeaning: string(&s.modifier_meaning)))
        }
        let values = Dictionary(uniqueKeysWithValues: segments.map { ($0.number, value($0)) })

        var labels = Volume<UInt8>(geometry: geometry, voxels: [UInt8](repeating: 0, count: geometry.size.count))
        var written = [Int](repeating: 0, count: geometry.size.count)  // segment number per voxel, for overlaps
        var mask = [UInt8](repeating: 0, count: a.rows * a.columns)
        for frame in 0..<a.numberOfFrames {
            var number: Int32 = 0
            let status = mask.withUnsafeMutableBufferPointer {
                cdicom_seg_frame(handle, Int32(frame), &number, $0.baseAddress, $0.count, &message, message.count)
            }
            guard status == 0 else { throw IngestError(.decodeFailed, path: path, detail: text(of: message)) }
            guard let entry = values[Int(number)] else {
                throw PathError<DicomSegmentationReader>(
                    path: path, reason: "frame \(frame + 1) names segment \(number), which the file does not describe")
            }
            guard let value = entry else { continue }
            let place = try FramePlacement(
                try headers.frameInfo(frame), rows: a.rows, columns: a.columns, on: geometry, frame: frame, path: path)
            for r in 0..<a.rows {
                for c in 0..<a.columns where mask[r * a.columns + c] != 0 {
                    let n = place.voxel(row: r, column: c, size: geometry.size)
                    if written[n] <= Int(number) {
                        labels.voxels[n] = value
                        written[n] = Int(number)
                    }
                }
            }
        }
        return (segments, labels)
    }

    /// Where a frame's pixels fall on the grid: the voxel of its first pixel and the voxel steps
    /// of one column and one row, each along one axis.
    struct FramePlacement {
        var first: SIMD3<Int>
        var columnStep: SIMD3<Int>
        var rowStep: SIMD3<Int>

        init(_ f: FrameInfo, rows: Int, columns: Int, on g: Geometry, frame: Int, path: String) throws {
            guard let p = f.position, let rowDirection = f.rowDirection, let columnDirection = f.columnDirection,
                let rowSpacing = f.rowSpacing, let columnSpacing = f.columnSpacing
            else {
                throw IngestError(.missingGeometry, path: path, detail: "frame \(frame + 1)")
            }
            let start = g.index(atPoint: p)
            func unitStep(_ step: SIMD3<Double>) -> SIMD3<Int>? {
                let rounded = step.rounded(.toNearestOrAwayFromZero)
                guard ((step - rounded) * (step - rounded)).sum() < 1e-4, (rounded * rounded).sum() == 1 else {
                    return nil
                }
                return SIMD3<Int>(Int(rounded.x), Int(rounded.y), Int(rounded.z))
            }
            guard
                ((start - start.rounded(.toNearestOrAwayFromZero)) * (start - start.rounded(.toNearestOrAwayFromZero)))
                    .sum() < 0.01,
                let column = unitStep(g.index(atPoint: p + rowDirection * columnSpacing) - start),
                let row = unitStep(g.index(atPoint: p + columnDirection * rowSpacing) - start)
            else {
                throw PathError<DicomSegmentationReader>(
                    path: path, reason: "frame \(frame + 1) is not on the image's grid (its pixels fall between voxels)"
                )
            }
            first = SIMD3<Int>(
                Int(start.x.rounded(.toNearestOrAwayFromZero)), Int(start.y.rounded(.toNearestOrAwayFromZero)),
                Int(start.z.rounded(.toNearestOrAwayFromZero)))
            columnStep = column
            rowStep = row
            let last = first &+ columnStep &* (columns - 1) &+ rowStep &* (rows - 1)
            let size = SIMD3<Int>(g.size.i, g.size.j, g.size.k)
            guard all(first .>= 0), all(first .< size), all(last .>= 0), all(last .< size) else {
                throw PathError<DicomSegmentationReader>(
                    path: path, reason: "frame \(frame + 1) lies outside the image (\(g.size) voxels)")
            }
        }

        func voxel(row: Int, column: Int, size: Extent3) -> Int {
            let v = first &+ columnStep &* column &+ rowStep &* row
            return v.x + size.i * (v.y + size.j * v.z)
        }
    }
}
