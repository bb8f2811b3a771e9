import Foundation
import TestSupport
import Testing
import Volumes

@testable import NIfTI

/// Crafted NIfTI headers (sform, dims, declared bytes) are refused with their plausibility code
/// before any voxel buffer is sized from them.
@Suite struct NIfTIPlausibilityTests {
    /// The 352 header bytes (plus voxels) of a small honest .nii, to be edited.
    static func honestFile() throws -> Data {
        let dir = try TemporaryDirectory()
        try NIfTIFile.write(NIfTIFileTests.sampleVolume(), to: dir.file("a.nii"))
        return try Data(contentsOf: URL(fileURLWithPath: dir.file("a.nii")))
    }

    static func put<T>(_ value: T, at offset: Int, in data: inout Data) {
        withUnsafeBytes(of: value) { data.replaceSubrange(offset..<(offset + $0.count), with: $0) }
    }

    /// Sets the three sform rows (srow_x, srow_y, srow_z at 280, 296, 312).
    static func setSform(_ rows: [[Float]], in data: inout Data) {
        for (r, row) in rows.enumerated() {
            for (c, v) in row.enumerated() { put(v, at: 280 + 16 * r + 4 * c, in: &data) }
        }
    }

    /// Sets dim[1...3] (shorts at 42, 44, 46).
    static func setDims(_ i: Int16, _ j: Int16, _ k: Int16, in data: inout Data) {
        put(i, at: 42, in: &data)
        put(j, at: 44, in: &data)
        put(k, at: 46, in: &data)
    }

    func code(reading path: String) -> PlausibilityCode? {
        do {
            _ = try NIfTIFile.readHounsfield(path)
            Issue.record("\(path) was read")
            return nil
        } catch let error as PlausibilityError {
            #expect(error.path == path)
            return error.code
        } catch {
            Issue.record("\(path): \(error)")
            return nil
        }
    }

    @Test(arguments: [("NaN", Float.nan), ("1e30", Float(1e30)), ("all zero", Float(0))])
    func anImplausibleSformIsRefused(name: String, value: Float) throws {
        let dir = try TemporaryDirectory()
        var data = try Self.honestFile()
        if value == 0 {
            Self.setSform([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], in: &data)
        } else {
            Self.setSform([[value, 0, 0, 0], [0, 0.8, 0, 0], [0, 0, 2.5, 0]], in: &data)
        }
        try data.write(to: URL(fileURLWithPath: dir.file("s.nii")))
        #expect(code(reading: dir.file("s.nii")) == .implausibleGeometry, "sform \(name)")
    }

    @Test func dims32767CubedAreRefusedBeforeAllocating() throws {
        let dir = try TemporaryDirectory()
        var data = try Self.honestFile()
        Self.setDims(32767, 32767, 32767, in: &data)
        try data.write(to: URL(fileURLWithPath: dir.file("d.nii")))
        #expect(code(reading: dir.file("d.nii")) == .implausibleSize)
        // Compressed, the same header declares more bytes than any scan decompresses to.
        let writer = try ZstdFileWriter(path: dir.file("d.nii.zst"))
        try writer.write([UInt8](data))
        try writer.finish()
        #expect(code(reading: dir.file("d.nii.zst")) == .decompressedTooLarge)
        // And gzip'd, as .nii.gz (through nifticlib's znzlib).
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-k", "-n", dir.file("d.nii")]
        try gzip.run()
        gzip.waitUntilExit()
        try #require(gzip.terminationStatus == 0)
        #expect(code(reading: dir.file("d.nii.gz")) == .decompressedTooLarge)
    }

    @Test func aSmallZstdFileThatDecompressesTo1024CubedIsRefusedBeforeAllocating() throws {
        // 1024³ int16 (2 GiB of zeros) in a .nii.zst of a few dozen KiB.
        let dir = try TemporaryDirectory()
        var header = try Self.honestFile().prefix(352)
        Self.setDims(1024, 1024, 1024, in: &header)
        Self.setSform([[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]], in: &header)
        let writer = try ZstdFileWriter(path: dir.file("big.nii.zst"))
        try writer.write([UInt8](header))
        let zeros = [UInt8](repeating: 0, count: 16 << 20)
        for _ in 0..<(2048 / 16) { try writer.write(zeros) }
        try writer.finish()
        let size = try #require(
            try FileManager.default.attributesOfItem(atPath: dir.file("big.nii.zst"))[.size] as? Int)
        #expect(size < 1 << 20)
        #expect(code(reading: dir.file("big.nii.zst")) == .implausibleSize)  // 2^30 voxels, more than 2^29
    }

    @Test func aCompressedFileDeclaringMoreThanTheByteLimitIsRefused() throws {
        // float64 1024×1024×300: 3.1e8 voxels (under the voxel limit) but 2.5 GB to decompress.
        let dir = try TemporaryDirectory()
        var header = try Self.honestFile().prefix(352)
        Self.setDims(1024, 1024, 300, in: &header)
        Self.put(Int16(64), at: 70, in: &header)  // datatype FLOAT64
        Self.put(Int16(64), at: 72, in: &header)  // bitpix
        Self.setSform([[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]], in: &header)
        let writer = try ZstdFileWriter(path: dir.file("f.nii.zst"))
        try writer.write([UInt8](header) + [UInt8](repeating: 0, count: 4096))
        try writer.finish()
        #expect(code(reading: dir.file("f.nii.zst")) == .decompressedTooLarge)
    }

    @Test func aPlainFileShorterThanItsHeaderDeclaresIsRefusedBeforeAllocating() throws {
        let dir = try TemporaryDirectory()
        var data = try Self.honestFile()
        Self.setDims(512, 512, 400, in: &data)  // plausible: 200 MiB of int16 that the file does not hold
        try data.write(to: URL(fileURLWithPath: dir.file("t.nii")))
        #expect {
            try NIfTIFile.readHounsfield(dir.file("t.nii"))
        } throws: { error in
            (error as? NIfTIError)?.reason.contains("truncated") == true
        }
    }

    @Test func theHonestFileStillReads() throws {
        let dir = try TemporaryDirectory()
        try Self.honestFile().write(to: URL(fileURLWithPath: dir.file("a.nii")))
        #expect(try NIfTIFile.readHounsfield(dir.file("a.nii")).voxels == NIfTIFileTests.sampleVolume().voxels)
    }
}
