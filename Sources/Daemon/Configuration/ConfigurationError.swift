/// A configuration problem: the file, the key, what is wrong and how to fix it, in one line.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    /// `section.key`, or "" for the file as a whole.
    public var key: String
    public var problem: String
    public var fix: String

    public init(file: String, key: String, problem: String, fix: String) {
        self.file = file
        self.key = key
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let place = key.isEmpty ? file : "\(file): \(key)"
        return "\(place): \(problem); \(fix)"
    }
}
