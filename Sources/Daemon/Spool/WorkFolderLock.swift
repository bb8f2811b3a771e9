import Glibc

/// The one `lcovnet serve` of a work folder: an exclusive flock on `<work>/lcovnet.lock`, taken
/// before the ledger is opened and held for the life of the process (the kernel releases it
/// when the process ends, however it ends, so it is never stale). A second daemon on the same
/// work folder gets a `ConfigurationError` naming the lock file and the holder's pid, and
/// `lcovnet serve` exits 78. `lcovnet status` and `retrain` do not take it.
public final class WorkFolderLock {
    public static let fileName = "lcovnet.lock"
    public let path: String
    private let fd: Int32

    /// - Parameter file: the configuration file, for the error line.
    public init(work: String, file: String = "configuration") throws(ConfigurationError) {
        path = "\(work)/\(Self.fileName)"
        // O_CLOEXEC: a child process must not inherit (and so outlive us holding) the lock.
        let opened = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard opened >= 0 else {
            throw ConfigurationError(
                file: file, key: "paths.work",
                problem: "the lock file \(path) cannot be opened (\(String(cString: strerror(errno))))",
                fix: "give the daemon's user write access to the work folder")
        }
        while flock(opened, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let reason =
                errno == EWOULDBLOCK
                ? "is held by another lcovnet serve" + (Self.holder(opened).map { " (pid \($0))" } ?? "")
                : "cannot be locked (\(String(cString: strerror(errno))))"
            close(opened)
            throw ConfigurationError(
                file: file, key: "paths.work", problem: "the lock file \(path) \(reason)",
                fix: "stop the other daemon first, or give this one a work folder of its own")
        }
        fd = opened
        // The holder's pid, for the second daemon's error line (informative only: the lock is the flock).
        let pid = Array("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// The pid the holder wrote into the lock file, when it reads as one.
    private static func holder(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[..<n].filter { (48...57).contains($0) }, as: UTF8.self))
    }
}
