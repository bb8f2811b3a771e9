import Foundation
import Volumes

/// Edits of single attributes in an explicit VR little endian file (the writer's default), the
/// way a crafted file differs from an honest one. Only top-level elements with a 2-byte length.
public enum DicomBytes {
    /// File meta, modality CT, then (0008,1115) sequences each holding one item that holds the
    /// next, `depth` deep: explicit VR little endian by default, or implicit; undefined lengths
    /// closed by delimiters by default, or defined lengths.
    /// `transferSyntax` overrides the one the meta group names (the dataset stays as encoded,
    /// e.g. for a test that deflates it afterwards).
    public static func nestedSequences(
        depth: Int, implicitVR: Bool = false, definedLengths: Bool = false, transferSyntax: String? = nil
    ) -> Data {
        func le<T: FixedWidthInteger>(_ v: T) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
        func element(_ group: UInt16, _ elementNumber: UInt16, _ vr: String, _ value: String, explicit: Bool = true)
            -> Data
        {
            var bytes = Array(value.utf8)
            if bytes.count % 2 == 1 { bytes.append(vr == "UI" ? 0 : 0x20) }
            return le(group) + le(elementNumber)
                + (explicit ? Data(vr.utf8) + le(UInt16(bytes.count)) : le(UInt32(bytes.count))) + Data(bytes)
        }
        func sequenceHeader(_ length: UInt32) -> Data {
            le(UInt16(8)) + le(UInt16(0x1115))
                + (implicitVR ? le(length) : Data("SQ".utf8) + le(UInt16(0)) + le(length))
        }
        let item = le(UInt16(0xFFFE)) + le(UInt16(0xE000))
        let syntax = transferSyntax ?? (implicitVR ? "1.2.840.10008.1.2" : "1.2.840.10008.1.2.1")
        let meta =
            element(2, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.2") + element(2, 0x0003, "UI", "1.2.3.4")
            + element(2, 0x0010, "UI", syntax)
        var data =
            Data(count: 128) + Data("DICM".utf8) + le(UInt16(2)) + le(UInt16(0)) + Data("UL".utf8) + le(UInt16(4))
            + le(UInt32(meta.count)) + meta
        data +=
            element(8, 0x0060, "CS", "CT", explicit: !implicitVR)
            + element(0x20, 0x000E, "UI", "1.2.3.4.5", explicit: !implicitVR)
        if definedLengths {
            var inner = Data()
            for _ in 0..<depth {
                let wrapped = item + le(UInt32(inner.count)) + inner
                inner = sequenceHeader(UInt32(wrapped.count)) + wrapped
            }
            return data + inner
        }
        let open = sequenceHeader(UInt32.max) + item + le(UInt32.max)
        let close =
            le(UInt16(0xFFFE)) + le(UInt16(0xE00D)) + le(UInt32(0)) + le(UInt16(0xFFFE)) + le(UInt16(0xE0DD))
            + le(UInt32(0))
        for _ in 0..<depth { data += open }
        for _ in 0..<depth { data += close }
        return data
    }

    public static func find(_ data: Data, group: UInt16, element: UInt16, vr: String) -> Int? {
        let pattern =
            [UInt8(group & 0xff), UInt8(group >> 8), UInt8(element & 0xff), UInt8(element >> 8)] + Array(vr.utf8)
        guard data.count > pattern.count else { return nil }
        let bytes = [UInt8](data)
        for start in 132..<(bytes.count - pattern.count)
        where bytes[start..<(start + pattern.count)].elementsEqual(pattern) {
            return start
        }
        return nil
    }

    public static func patchUInt16(_ path: String, group: UInt16, element: UInt16, value: UInt16) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let at = find(data, group: group, element: element, vr: "US") else {
            throw PathError<DicomBytes>(path: path, reason: "no (\(group),\(element)) US element")
        }
        data[at + 8] = UInt8(value & 0xff)
        data[at + 9] = UInt8(value >> 8)
        try data.write(to: URL(fileURLWithPath: path))
    }

    public static func decimals(_ path: String, group: UInt16, element: UInt16) throws -> [Double] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let at = find(data, group: group, element: element, vr: "DS") else {
            throw PathError<DicomBytes>(path: path, reason: "no (\(group),\(element)) DS element")
        }
        let length = Int(data[at + 6]) | Int(data[at + 7]) << 8
        let text = String(decoding: data[(at + 8)..<(at + 8 + length)], as: UTF8.self)
        return text.split(separator: "\\").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Replaces a DS element's value (the length changes; the writer adds no group lengths).
    public static func patchDecimals(_ path: String, group: UInt16, element: UInt16, values: [Double]) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let at = find(data, group: group, element: element, vr: "DS") else {
            throw PathError<DicomBytes>(path: path, reason: "no (\(group),\(element)) DS element")
        }
        let length = Int(data[at + 6]) | Int(data[at + 7]) << 8
        var text = values.map { String(format: "%.10g", $0) }.joined(separator: "\\")
        if text.utf8.count % 2 == 1 { text += " " }
        let value = Array(text.utf8)
        data.replaceSubrange(
            (at + 6)..<(at + 8 + length), with: [UInt8(value.count & 0xff), UInt8(value.count >> 8)] + value)
        try data.write(to: URL(fileURLWithPath: path))
    }
}
