/// A failure tied to one file or folder: its path and the reason, printed as the one line
/// `path: reason`. `Origin` holds nothing; it keeps each module's failures a type of their own,
/// so that callers can tell them apart (a bad input from a full disk, say).
public struct PathError<Origin>: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
