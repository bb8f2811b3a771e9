internal import CZlib

/// PNG writing for 8-bit RGB images: IHDR, one zlib-compressed IDAT with the Sub filter on
/// every row (previews are mostly flat regions, which Sub turns into runs of zeros), IEND.
/// Written here rather than through libpng: the three chunks and a CRC over zlib (linked anyway)
/// are all a preview needs, and libpng would be one more native library to install and track.
public enum PNGEncoder {
    public static func encode(_ image: RGBImage) throws -> [UInt8] {
        let rowBytes = image.width * 3
        var filtered = [UInt8](repeating: 0, count: image.height * (rowBytes + 1))
        for y in 0..<image.height {
            let src = y * rowBytes
            let dst = y * (rowBytes + 1)
            filtered[dst] = 1  // Sub: each byte minus the same channel of the pixel to its left
            for x in 0..<rowBytes {
                let left = x >= 3 ? image.pixels[src + x - 3] : 0
                filtered[dst + 1 + x] = image.pixels[src + x] &- left
            }
        }
        var compressedSize = compressBound(uLong(filtered.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let status = compress2(&compressed, &compressedSize, filtered, uLong(filtered.count), 6)
        guard status == Z_OK else {
            throw ExportError(path: "preview.png", reason: "zlib compress2 failed with status \(status)")
        }
        compressed.removeSubrange(Int(compressedSize)...)

        var header = [UInt8]()
        header += bigEndian(UInt32(image.width)) + bigEndian(UInt32(image.height))
        header += [8, 2, 0, 0, 0]  // 8 bits, RGB, deflate, adaptive filtering, no interlace
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", header)
        png += chunk("IDAT", compressed)
        png += chunk("IEND", [])
        return png
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc)
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
