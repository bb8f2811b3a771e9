import Glibc

/// A failed system call of a durable write: the call, the path and errno (callers map it to
/// their own error, and decide by errno whether a retry may help).
public struct DurableError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var path: String
    public var errno: Int32

    public init(_ call: String, path: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(path): \(call) failed: \(reason)" }

    /// The failure without the path (for logs, where a watch folder's name may be a patient's).
    public var reason: String { "\(call) failed: \(String(cString: strerror(errno)))" }
}

/// The one way lcovnet writes files that must survive a crash or a power cut: the bytes go to a
/// temporary name in the same folder (keeping the file's ending, so writers that pick a format
/// by the name still work), are fsync'd and renamed over the final name, and the folder is
/// fsync'd so that the rename lasts. Readers see the old file or the whole new one, never a part;
/// on failure the temporary file is removed and the old file stays as it was.
public enum Durable {
    /// Runs `fill` with the temporary path, then commits it to `path`.
    public static func write(to path: String, _ fill: (_ temporaryPath: String) throws -> Void) throws {
        let folder = parent(path)
        let temporary = "\(folder)/.tmp-\(getpid())-\(UInt32.random(in: .min ... .max))-\(name(path))"
        do {
            try fill(temporary)
            try sync(temporary)
            try rename(temporary, path)
        } catch {
            unlink(temporary)
            throw error
        }
        try sync(folder)
    }

    /// Writes `bytes` to `path` durably.
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws(DurableError) {
        do {
            try write(to: path) { temporary in
                let fd = retryingEINTR { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
                guard fd >= 0 else { throw DurableError("open", path: temporary) }
                defer { close(fd) }
                func writeAll(_ raw: UnsafeRawBufferPointer) throws {
                    var done = 0
                    while done < raw.count {
                        let n = retryingEINTR { Glibc.write(fd, raw.baseAddress! + done, raw.count - done) }
                        guard n > 0 else { throw DurableError("write", path: temporary) }
                        done += n
                    }
                }
                // Straight from the caller's storage: a volume-sized file is not copied first.
                let written = try bytes.withContiguousStorageIfAvailable { try writeAll(UnsafeRawBufferPointer($0)) }
                if written == nil { try Array(bytes).withUnsafeBytes { try writeAll($0) } }
            }
        } catch let error as DurableError {
            throw error
        } catch {
            throw DurableError("write", path: path, errno: EIO)
        }
    }

    /// fsync on a file or a folder (so its data, or a rename into it, lasts).
    public static func sync(_ path: String) throws(DurableError) {
        let fd = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw DurableError("open", path: path) }
        defer { close(fd) }
        guard retryingEINTR({ fsync(fd) }) == 0 else { throw DurableError("fsync", path: path) }
    }

    /// Every file in a folder, then the folder itself.
    public static func syncTree(_ path: String) throws(DurableError) {
        guard let dir = opendir(path) else { throw DurableError("opendir", path: path) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names { try sync("\(path)/\(name)") }
        try sync(path)
    }

    public static func rename(_ from: String, _ to: String) throws(DurableError) {
        guard Glibc.rename(from, to) == 0 else { throw DurableError("rename to \(to)", path: from) }
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func name(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    static func retryingEINTR<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}
