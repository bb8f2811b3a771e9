import Foundation
import Glibc

/// An advisory lock on a file (flock): the daemon's cache writer, the backfill and `lcovnet
/// retrain` take it around every change of a manifest. The kernel releases it when a process
/// dies, so a kill never leaves it held.
final class FileLock {
    private let fd: Int32

    /// Blocks until the lock is held (`wait: false` throws at once when another process holds it).
    init(_ path: String, wait: Bool = true) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o660)
        guard fd >= 0 else {
            throw CacheError("\(path): cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            if errno == EINTR { continue }
            let failure = errno
            close(fd)
            if failure == EWOULDBLOCK { throw LockHeld(path: path) }
            throw CacheError("\(path): \(String(cString: strerror(failure)))")
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let lock = try FileLock(path)
        defer { withExtendedLifetime(lock) {} }
        return try body()
    }
}

/// Another process holds the lock (`FileLock(wait: false)`): e.g. a retraining round already
/// running; `lcovnet retrain` exits 75 (try again later) on it.
public struct LockHeld: Error, CustomStringConvertible {
    public var path: String
    public var description: String { "\(path): held by another process" }
}
