/// A preparation step that cannot run on this input, with one line saying why.
public struct PreprocessError: Error, CustomStringConvertible, Sendable {
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
