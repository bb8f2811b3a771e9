internal import CZstd
import Glibc

/// Streams bytes into a zstd-compressed file with libzstd, a bounded buffer at a time.
final class ZstdFileWriter {
    private let path: String
    private var file: UnsafeMutablePointer<FILE>?
    private let context: OpaquePointer
    private var output: [UInt8]

    init(path: String, level: Int32 = 3) throws {
        self.path = path
        guard let file = fopen(path, "wb") else {
            throw NIfTIError(path: path, reason: "cannot open for writing: \(String(cString: strerror(errno)))")
        }
        self.file = file
        context = ZSTD_createCCtx()
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    deinit {
        ZSTD_freeCCtx(context)
        if let file { fclose(file) }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            _ = try compress(&input, directive: ZSTD_e_continue)
        }
    }

    /// Flushes the frame epilogue and closes the file; errors (a full disk) surface here.
    func finish() throws {
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try compress(&input, directive: ZSTD_e_end) != 0 {}
        let closed = fclose(file)
        file = nil
        if closed != 0 { throw NIfTIError(path: path, reason: "write failed: \(String(cString: strerror(errno)))") }
    }

    private func compress(_ input: inout ZSTD_inBuffer, directive: ZSTD_EndDirective) throws -> Int {
        try output.withUnsafeMutableBytes { out in
            var buffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
            let remaining = ZSTD_compressStream2(context, &buffer, &input, directive)
            if ZSTD_isError(remaining) != 0 {
                throw NIfTIError(path: path, reason: "zstd: \(String(cString: ZSTD_getErrorName(remaining)))")
            }
            if buffer.pos > 0, fwrite(out.baseAddress, 1, buffer.pos, file) != buffer.pos {
                throw NIfTIError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            return remaining
        }
    }
}

enum ZstdFile {
    /// Decompresses a whole zstd file (all frames) into memory, streaming from disk.
    static func decompress(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            throw NIfTIError(path: path, reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        let context = ZSTD_createDCtx()
        defer { ZSTD_freeDCtx(context) }
        var input = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
        var chunk = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        var result = [UInt8]()
        var lastRemaining = 0
        var sawInput = false
        while true {
            let read = input.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if read == 0 {
                if ferror(file) != 0 { throw NIfTIError(path: path, reason: "read failed: \(String(cString: strerror(errno)))") }
                break
            }
            sawInput = true
            try input.withUnsafeBytes { inRaw in
                var inBuffer = ZSTD_inBuffer(src: inRaw.baseAddress, size: read, pos: 0)
                while inBuffer.pos < inBuffer.size {
                    let produced = try chunk.withUnsafeMutableBytes { out -> Int in
                        var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                        let remaining = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                        if ZSTD_isError(remaining) != 0 {
                            throw NIfTIError(path: path, reason: "not valid zstd data: \(String(cString: ZSTD_getErrorName(remaining)))")
                        }
                        lastRemaining = remaining
                        return outBuffer.pos
                    }
                    result.append(contentsOf: chunk[0..<produced])
                }
            }
        }
        guard sawInput else { throw NIfTIError(path: path, reason: "file is empty") }
        guard lastRemaining == 0 else { throw NIfTIError(path: path, reason: "zstd stream is truncated") }
        return result
    }
}
