import Foundation
import Volumes

/// Edits of single attributes in an explicit VR little endian file (the writer's default), the
/// way a crafted file differs from an honest one. Only top-level elements with a 2-byte length.
public enum DicomBytes {
    public static func find(_ data: Data, group: UInt16, element: UInt16, vr: String) -> Int? {
        let pattern = [UInt8(group & 0xff), UInt8(group >> 8), UInt8(element & 0xff), UInt8(element >> 8)] + Array(vr.utf8)
        guard data.count > pattern.count else { return nil }
        let bytes = [UInt8](data)
        for start in 132..<(bytes.count - pattern.count) where bytes[start..<(start + pattern.count)].elementsEqual(pattern) {
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
        data.replaceSubrange((at + 6)..<(at + 8 + length), with: [UInt8(value.count & 0xff), UInt8(value.count >> 8)] + value)
        try data.write(to: URL(fileURLWithPath: path))
    }
}
