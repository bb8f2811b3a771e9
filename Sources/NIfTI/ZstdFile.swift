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

/// Reads a zstd-compressed file (all frames) as a stream, decoding straight into the
/// caller's buffers; only libzstd's window and one input block are held.
final class ZstdFileReader {
    private let path: String
    private let file: UnsafeMutablePointer<FILE>
    private let context: OpaquePointer
    private var input: [UInt8]
    private var inputFilled = 0
    private var inputUsed = 0
    /// libzstd's hint after the last call: 0 when a frame just ended.
    private var lastRemaining = 0
    private var sawInput = false
    private var atEnd = false

    init(path: String) throws {
        guard let file = fopen(path, "rb") else {
            throw NIfTIError(path: path, reason: String(cString: strerror(errno)))
        }
        self.path = path
        self.file = file
        context = ZSTD_createDCtx()
        input = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
    }

    deinit {
        ZSTD_freeDCtx(context)
        fclose(file)
    }

    /// Fills `buffer` with the next decompressed bytes; returns fewer only at the end of the
    /// data. A stream that stops inside a frame is an error.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while output.pos < output.size {
            let produced = output.pos
            try input.withUnsafeBytes { raw in
                var inBuffer = ZSTD_inBuffer(src: raw.baseAddress, size: inputFilled, pos: inputUsed)
                let remaining = ZSTD_decompressStream(context, &output, &inBuffer)
                if ZSTD_isError(remaining) != 0 {
                    throw NIfTIError(
                        path: path, reason: "not valid zstd data: \(String(cString: ZSTD_getErrorName(remaining)))")
                }
                // A call that moved nothing (after a frame's end) only hints at the next frame.
                if inBuffer.pos > inputUsed || output.pos > produced { lastRemaining = remaining }
                inputUsed = inBuffer.pos
            }
            // libzstd may still hold decoded bytes when the input runs out: ask for more
            // input only once a call with what is left produced nothing.
            if output.pos == produced, inputUsed == inputFilled {
                guard !atEnd, try refill() else { break }
            }
        }
        return output.pos
    }

    /// Decodes and drops `count` bytes.
    func skip(_ count: Int) throws {
        guard count > 0 else { return }
        var scratch = [UInt8](repeating: 0, count: min(count, 1 << 16))
        var left = count
        while left > 0 {
            let part = min(left, scratch.count)
            let got = try scratch.withUnsafeMutableBytes {
                try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<part]))
            }
            guard got == part else { throw NIfTIError(path: path, reason: "file ends inside its header extensions") }
            left -= part
        }
    }

    /// Reads the next block of compressed input; false at the end of the file.
    private func refill() throws -> Bool {
        let read = input.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if read == 0 {
            if ferror(file) != 0 {
                throw NIfTIError(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
            }
            atEnd = true
            guard sawInput else { throw NIfTIError(path: path, reason: "file is empty") }
            guard lastRemaining == 0 else { throw NIfTIError(path: path, reason: "zstd stream is truncated") }
            return false
        }
        sawInput = true
        inputFilled = read
        inputUsed = 0
        return true
    }
}

enum ZstdFile {
    /// Decompresses a whole zstd file (all frames) into memory.
    static func decompress(_ path: String) throws -> [UInt8] {
        let reader = try ZstdFileReader(path: path)
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        while true {
            let got = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            result.append(contentsOf: chunk[0..<got])
            if got < chunk.count { return result }
        }
    }
}
