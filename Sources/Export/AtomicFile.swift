import Foundation
import Glibc

/// Writes a file so that readers see either the old file or the complete new one, never a
/// partial one, even across a crash: the bytes go to a temporary name in the same folder,
/// are fsync'd, renamed over the final name, and the folder is fsync'd so the rename lasts.
/// On failure the temporary file is removed and any old file stays as it was.
public enum AtomicFile {
    /// Runs `write` with a temporary path (same folder, same file-name ending, so writers that
    /// choose their format by the name keep working), then commits it to `path`.
    public static func write(to path: String, _ write: (_ temporaryPath: String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = "\(folder)/.tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(url.lastPathComponent)"
        do {
            try write(temporary)
            try syncFile(temporary)
            guard rename(temporary, path) == 0 else { throw ExportError(path: path, reason: "rename failed: \(lastError())") }
        } catch {
            unlink(temporary)
            if let error = error as? ExportError { throw error }
            throw ExportError(path: path, reason: "\(error)")
        }
        try syncFile(folder, directory: true)
    }

    /// Writes `bytes` atomically.
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws {
        try write(to: path) { temporary in
            let fd = retryingEINTR { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
            guard fd >= 0 else { throw ExportError(path: path, reason: "cannot create a file in its folder: \(lastError())") }
            defer { close(fd) }
            let data = Array(bytes)
            try data.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = retryingEINTR { Glibc.write(fd, raw.baseAddress! + done, raw.count - done) }
                    guard n > 0 else { throw ExportError(path: path, reason: "write failed: \(lastError())") }
                    done += n
                }
            }
        }
    }

    /// Writes a string as UTF-8 atomically.
    public static func write(text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    static func syncFile(_ path: String, directory: Bool = false) throws {
        let fd = retryingEINTR { open(path, (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC) }
        guard fd >= 0 else { throw ExportError(path: path, reason: "cannot open to fsync: \(lastError())") }
        defer { close(fd) }
        guard retryingEINTR({ fsync(fd) }) == 0 else { throw ExportError(path: path, reason: "fsync failed: \(lastError())") }
    }

    static func lastError() -> String { String(cString: strerror(errno)) }

    static func retryingEINTR<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}
