/// A failure tied to one file or folder: its path and the reason, printed as the one line
/// `path: reason`. `Origin` holds nothing; it keeps each module's failures a type of their own,
/// so that callers can tell them apart (a bad input from a full disk, say).
public struct PathError<Origin>: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    /// The system call's errno when a system call failed (a full disk is ENOSPC), taken when it
    /// failed; nil for failures the bytes or the arguments decide.
    public var errno: Int32?

    public init(path: String, reason: String, errno: Int32? = nil) {
        self.path = path
        self.reason = reason
        self.errno = errno
    }

    public var description: String { "\(path): \(reason)" }
}
