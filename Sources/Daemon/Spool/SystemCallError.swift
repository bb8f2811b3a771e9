import CDaemonSystem
import DurableFiles
import Glibc

/// A failed system call: its name, the path concerned and errno (DurableFiles owns the type;
/// the daemon adds which failures are transient).
public typealias SystemCallError = DurableError

extension DurableError {
    /// Errors that go away by themselves (space freed, I/O recovered, descriptors closed):
    /// the job is retried with backoff instead of failed.
    public var isTransient: Bool {
        [ENOSPC, EDQUOT, EIO, EMFILE, ENFILE, ENOMEM, EAGAIN, EBUSY, EINTR, ETIMEDOUT].contains(errno)
    }
}

/// Thin wrappers over the calls the spool needs: each retries EINTR and throws with errno.
public enum FileSystem {
    public static func rename(_ from: String, _ to: String) throws(SystemCallError) {
        try Durable.rename(from, to)
    }

    /// Swaps `a` and `b` (both must exist) in one step.
    public static func exchange(_ a: String, _ b: String) throws(SystemCallError) {
        if lcovnet_rename_exchange(a, b) != 0 { throw SystemCallError("rename exchange with \(b)", path: a) }
    }

    public static func makeDirectory(_ path: String) throws(SystemCallError) {
        if mkdir(path, 0o750) != 0 && errno != EEXIST { throw SystemCallError("mkdir", path: path) }
    }

    /// Creates `path` and its missing parents.
    public static func makeDirectories(_ path: String) throws(SystemCallError) {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            try makeDirectory(prefix)
        }
    }

    public static func exists(_ path: String) -> Bool {
        var s = stat()
        return lstat(path, &s) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var s = stat()
        return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
    }

    /// fsync on a file or folder, so a rename into it (or its data) survives a power cut.
    public static func sync(_ path: String) throws(SystemCallError) {
        try Durable.sync(path)
    }

    public static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    public static func name(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    /// Writes `bytes` durably (DurableFiles): readers see the old file or the whole new one.
    public static func writeAtomically(_ bytes: some Collection<UInt8>, to path: String) throws(SystemCallError) {
        try Durable.write(bytes, to: path)
    }

    /// Entries of a folder (names only, "." and ".." left out); empty when it cannot be read.
    /// The names in a folder, sorted. A name that is not UTF-8 (Latin-1 from storescp, say) cannot
    /// be reached through a String path: with `repairingNames` it is renamed to its Latin-1
    /// reading (bytes ≥ 0x80 as U+0080…U+00FF) and listed under that name; otherwise it is left out.
    public static func entries(_ path: String, repairingNames: Bool = false) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        var undecodable: [[UInt8]] = []
        while let entry = readdir(dir) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if let name = String(validating: bytes, as: UTF8.self) {
                if name != "." && name != ".." { names.append(name) }
            } else {
                undecodable.append(bytes)
            }
        }
        if repairingNames { names += undecodable.compactMap { repairName($0, in: path) } }
        return names.sorted()
    }

    /// Renames a non-UTF-8 entry to its Latin-1 reading (made unique); nil when that fails.
    static func repairName(_ bytes: [UInt8], in folder: String) -> String? {
        let latin1 = String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        var name = latin1
        var n = 1
        while info("\(folder)/\(name)") != nil {
            name = "\(latin1)-\(n)"
            n += 1
        }
        let from = Array(folder.utf8) + [UInt8(ascii: "/")] + bytes + [0]
        let renamed = from.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { Glibc.rename($0.baseAddress!, "\(folder)/\(name)") }
        }
        return renamed == 0 ? name : nil
    }

    public struct FileInfo: Sendable, Equatable {
        public var size: Int64
        /// The later of modification and status-change time, in seconds (a rename into the
        /// watch folder keeps the old mtime but sets ctime).
        public var modified: Double
        public var isDirectory: Bool
        public var isRegular: Bool
        public var device: UInt64
        public var inode: UInt64
    }

    public static func info(_ path: String) -> FileInfo? {
        var s = stat()
        guard lstat(path, &s) == 0 else { return nil }
        let type = s.st_mode & S_IFMT
        return FileInfo(
            size: Int64(s.st_size),
            modified: max(
                Double(s.st_mtim.tv_sec) + Double(s.st_mtim.tv_nsec) / 1e9,
                Double(s.st_ctim.tv_sec) + Double(s.st_ctim.tv_nsec) / 1e9),
            isDirectory: type == S_IFDIR, isRegular: type == S_IFREG, device: UInt64(s.st_dev),
            inode: UInt64(s.st_ino))
    }

    /// Whether two regular files hold the same bytes (a series sent twice).
    public static func sameContents(_ a: String, _ b: String) -> Bool {
        guard let ia = info(a), let ib = info(b), ia.isRegular, ib.isRegular, ia.size == ib.size else { return false }
        guard let fa = fopen(a, "rb") else { return false }
        defer { fclose(fa) }
        guard let fb = fopen(b, "rb") else { return false }
        defer { fclose(fb) }
        var bufferA = [UInt8](repeating: 0, count: 1 << 16)
        var bufferB = bufferA
        while true {
            let na = fread(&bufferA, 1, bufferA.count, fa)
            let nb = fread(&bufferB, 1, bufferB.count, fb)
            if na != nb || bufferA[..<na] != bufferB[..<nb] { return false }
            if na == 0 { return true }
        }
    }

    /// Free bytes for unprivileged users on the filesystem holding `path`.
    public static func freeBytes(_ path: String) -> Int64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    /// Removes a file or a folder tree; a missing path is not an error.
    public static func removeTree(_ path: String) throws(SystemCallError) {
        guard let info = info(path) else { return }
        if info.isDirectory {
            for name in entries(path) { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 && errno != ENOENT { throw SystemCallError("rmdir", path: path) }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw SystemCallError("unlink", path: path)
        }
    }
}
