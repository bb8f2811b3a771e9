internal import CDicom
import Foundation
import Volumes

/// Geometry and value mapping of one frame.
public struct FrameInfo: Sendable, Equatable {
    public var position: SIMD3<Double>?
    /// Row direction (towards increasing column index) and column direction (increasing row index).
    public var rowDirection: SIMD3<Double>?
    public var columnDirection: SIMD3<Double>?
    /// Distance between rows and between columns (DICOM PixelSpacing order).
    public var rowSpacing: Double?
    public var columnSpacing: Double?
    public var sliceThickness: Double?
    public var rescaleSlope: Double = 1
    public var rescaleIntercept: Double = 0
}

/// The attributes of one DICOM file that series assembly needs. No patient data.
public struct DicomAttributes: Sendable {
    public var transferSyntaxUID: String
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var frameOfReferenceUID: String
    public var modality: String
    public var imageType: [String]
    public var photometricInterpretation: String
    public var seriesDescription: String
    public var seriesNumber: Int?
    public var instanceNumber: Int?
    public var acquisitionNumber: Int?
    public var gantryTilt: Double?
    public var rows: Int
    public var columns: Int
    public var samplesPerPixel: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    public var pixelRepresentation: Int
    /// 1 when absent; −1 when present but not a number.
    public var numberOfFrames: Int
    public var hasPixelData: Bool
    /// The PixelData value's length in bytes; nil when encapsulated (compressed) or absent.
    public var pixelDataBytes: Int?
    public var isEnhancedMultiFrame: Bool
    /// Top-level geometry merged with the shared functional groups.
    public var frame: FrameInfo
}

/// An open DICOM file. Owns the DCMTK handle; not shared between threads.
final class DicomFile {
    private let handle: OpaquePointer
    let path: String

    /// Opens `path`; `headersOnly` leaves pixel data on disk until a frame is decoded.
    init(path: String, headersOnly: Bool) throws(IngestError) {
        var opened: OpaquePointer?
        var message = [CChar](repeating: 0, count: 512)
        let status = cdicom_open(
            path, headersOnly ? 1 : 0, Plausibility.maxInflatedDicomBytes, Int32(Plausibility.maxSequenceNesting),
            &opened, &message, message.count)
        guard status == 0, let opened else {
            let text = text(of: message)
            if status == -2 { throw IngestError(.decompressedTooLarge, path: path, detail: text) }
            if status == -3 { throw IngestError(.corrupt, path: path, detail: text) }
            let code: IngestCode =
                text.hasPrefix("not a DICOM") || text.hasPrefix("the file is empty")
                ? .notDicom
                : text.hasPrefix("DCMTK") ? .corrupt : .unreadable
            throw IngestError(code, path: path, detail: text)
        }
        handle = opened
        self.path = path
    }

    deinit { cdicom_close(handle) }

    func attributes() throws(IngestError) -> DicomAttributes {
        var a = cdicom_attributes()
        var message = [CChar](repeating: 0, count: 512)
        guard cdicom_read_attributes(handle, &a, &message, message.count) == 0 else {
            throw IngestError(.corrupt, path: path, detail: text(of: message))
        }
        if a.uid_too_long != 0 {
            throw IngestError(.uidTooLong, path: path, detail: "longer than \(CDICOM_UID_LENGTH - 1) characters")
        }
        return DicomAttributes(
            transferSyntaxUID: string(&a.transfer_syntax_uid),
            sopClassUID: nonEmpty(string(&a.sop_class_uid), or: string(&a.media_sop_class_uid)),
            sopInstanceUID: nonEmpty(string(&a.sop_instance_uid), or: string(&a.media_sop_instance_uid)),
            studyInstanceUID: string(&a.study_instance_uid),
            seriesInstanceUID: string(&a.series_instance_uid),
            frameOfReferenceUID: string(&a.frame_of_reference_uid),
            modality: string(&a.modality),
            imageType: string(&a.image_type).split(separator: "\\").map {
                $0.trimmingCharacters(in: .whitespaces).uppercased()
            },
            photometricInterpretation: string(&a.photometric_interpretation),
            seriesDescription: string(&a.series_description),
            seriesNumber: a.has_series_number != 0 ? Int(a.series_number) : nil,
            instanceNumber: a.has_instance_number != 0 ? Int(a.instance_number) : nil,
            acquisitionNumber: a.has_acquisition_number != 0 ? Int(a.acquisition_number) : nil,
            gantryTilt: a.has_gantry_tilt != 0 ? a.gantry_tilt : nil,
            rows: Int(a.rows), columns: Int(a.columns), samplesPerPixel: Int(a.samples_per_pixel),
            bitsAllocated: Int(a.bits_allocated), bitsStored: Int(a.bits_stored), highBit: Int(a.high_bit),
            pixelRepresentation: Int(a.pixel_representation),
            numberOfFrames: a.number_of_frames < 0 ? -1 : max(1, Int(a.number_of_frames)),
            hasPixelData: a.has_pixel_data != 0,
            pixelDataBytes: a.pixel_data_bytes >= 0 ? Int(a.pixel_data_bytes) : nil,
            isEnhancedMultiFrame: a.has_per_frame_groups != 0,
            frame: FrameInfo(a.frame))
    }

    func frameInfo(_ frame: Int) throws(IngestError) -> FrameInfo {
        var info = cdicom_frame_info()
        var message = [CChar](repeating: 0, count: 512)
        guard cdicom_read_frame_info(handle, Int32(frame), &info, &message, message.count) == 0 else {
            throw IngestError(.missingGeometry, path: path, detail: text(of: message))
        }
        return FrameInfo(info)
    }

    /// Stored values of one frame, DICOM row order.
    func storedValues(frame: Int, count: Int) throws(IngestError) -> [Int32] {
        var values = [Int32](repeating: 0, count: count)
        var message = [CChar](repeating: 0, count: 512)
        let status = values.withUnsafeMutableBufferPointer {
            cdicom_decode_frame(handle, Int32(frame), $0.baseAddress, count, &message, message.count)
        }
        guard status == 0 else { throw IngestError(.decodeFailed, path: path, detail: text(of: message)) }
        return values
    }

    /// Decodes one frame in HU into `target` (rows × columns values), last DICOM row first.
    /// Returns how many values were clamped to the int16 range.
    func decodeHounsfield(
        frame: Int, slope: Double, intercept: Double,
        into target: UnsafeMutableBufferPointer<Int16>
    ) throws(IngestError) -> Int {
        var message = [CChar](repeating: 0, count: 512)
        var clamped = 0
        let status = cdicom_decode_frame_hu(
            handle, Int32(frame), slope, intercept, 1, target.baseAddress, target.count,
            &clamped, &message, message.count)
        guard status == 0 else { throw IngestError(.decodeFailed, path: path, detail: text(of: message)) }
        return clamped
    }
}

/// The text in a NUL-terminated message buffer.
func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func nonEmpty(_ a: String, or b: String) -> String { a.isEmpty ? b : a }

/// Reads a fixed-size C character array imported as a tuple.
func string<T>(_ tuple: inout T) -> String {
    withUnsafeBytes(of: &tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }
}

extension FrameInfo {
    fileprivate init(_ f: cdicom_frame_info) {
        if f.has_position != 0 { position = SIMD3(f.position.0, f.position.1, f.position.2) }
        if f.has_orientation != 0 {
            let o = f.orientation
            let row = SIMD3(o.0, o.1, o.2)
            let column = SIMD3(o.3, o.4, o.5)
            if length(row) > 0.5, length(column) > 0.5 {
                rowDirection = normalize(row)
                columnDirection = normalize(column)
            }
        }
        if f.has_pixel_spacing != 0, f.pixel_spacing.0 > 0, f.pixel_spacing.1 > 0 {
            rowSpacing = f.pixel_spacing.0
            columnSpacing = f.pixel_spacing.1
        }
        if f.has_slice_thickness != 0 { sliceThickness = f.slice_thickness }
        if f.has_rescale != 0, f.rescale_slope != 0 {
            rescaleSlope = f.rescale_slope
            rescaleIntercept = f.rescale_intercept
        }
    }
}
