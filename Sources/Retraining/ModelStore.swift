import DurableFiles
import Export
import Foundation
import Glibc
import Inference

/// Versioned student models under `<work>/models`: one complete model directory per version,
/// `current` (a symbolic link to the version the daemon serves) and `history.json` (the stack of
/// promotions, for rollback). A version appears only once complete — it is written under a
/// hidden name, fsync'd and renamed — and `current` changes by renaming a new link over it, so a
/// kill at any instant leaves the old model serving and never a half-written one.
public struct ModelStore: Sendable {
    public let path: String

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public static let currentName = "current"
    var currentLink: String { "\(path)/\(Self.currentName)" }
    var historyPath: String { "\(path)/history.json" }

    public struct Event: Codable, Sendable {
        public var time: String
        public var action: String
        public var version: String
        public var reason: String
    }

    public struct History: Codable, Sendable {
        /// Promoted versions, the current one last; rollback pops it.
        public var stack: [String] = []
        public var events: [Event] = []
    }

    /// Complete versions, oldest first (names sort by time).
    public func versions() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter {
            !$0.hasPrefix(".") && $0 != Self.currentName
                && FileManager.default.fileExists(atPath: "\(path)/\($0)/\(ModelDirectory.manifestName)")
        }
        .sorted()
    }

    /// The version `current` points at.
    public func current() -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: currentLink) else { return nil }
        return URL(fileURLWithPath: target).lastPathComponent
    }

    /// The folder the daemon should serve, nil when nothing was promoted yet.
    public func currentPath() -> String? { current().map { "\(path)/\($0)" } }

    public func history() -> History {
        guard let data = FileManager.default.contents(atPath: historyPath),
            var h = try? JSONDecoder().decode(History.self, from: data)
        else {
            return History(stack: current().map { [$0] } ?? [], events: [])
        }
        // A kill between the link and the history leaves the history one step behind.
        if let c = current(), h.stack.last != c { h.stack.append(c) }
        return h
    }

    /// A new version's folder, hidden until `commit`: write the model into it.
    public func staging(_ version: String) throws -> String {
        let dir = "\(path)/.incoming-\(version)"
        if FileManager.default.fileExists(atPath: dir) { try FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        return dir
    }

    /// Makes a staged version visible (fsync'd files, then one rename).
    public func commit(staged: String, version: String) throws {
        _ = try ModelDirectory(path: staged)  // loads: manifest, weights, every layer's shapes
        try Durable.syncTree(staged)
        try Durable.rename(staged, "\(path)/\(version)")
        try Durable.sync(path)
    }

    /// Copies a model directory in as a version (the student that served before the first round).
    public func adopt(model source: String, version: String) throws {
        let staged = try staging(version)
        for name in try FileManager.default.contentsOfDirectory(atPath: source) where !name.hasPrefix(".") {
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(source)/\(name)", isDirectory: &isDir)
            if !isDir.boolValue {
                try FileManager.default.copyItem(atPath: "\(source)/\(name)", toPath: "\(staged)/\(name)")
            }
        }
        try commit(staged: staged, version: version)
    }

    /// Points `current` at `version` (which must load as a model) and records why.
    public func promote(_ version: String, reason: String) throws {
        try setCurrent(version)
        var h = history()
        if h.stack.last != version { h.stack.append(version) }
        h.events.append(Event(time: Self.now(), action: "promote", version: version, reason: reason))
        try write(h)
    }

    /// Serves the version promoted before the current one again; returns it.
    @discardableResult
    public func rollback(reason: String = "lcovnet model rollback") throws -> String {
        var h = history()
        guard h.stack.count >= 2 else { throw CacheError("\(path): no earlier promoted version to roll back to") }
        let from = h.stack.removeLast()
        let to = h.stack.last!
        try setCurrent(to)
        h.events.append(Event(time: Self.now(), action: "rollback", version: to, reason: "\(reason) (from \(from))"))
        try write(h)
        return to
    }

    private func setCurrent(_ version: String) throws {
        guard versions().contains(version) else {
            throw CacheError("\(path)/\(version): not a complete model version (see lcovnet model list)")
        }
        _ = try ModelDirectory(path: "\(path)/\(version)")
        let temporary = "\(path)/.current-\(getpid())"
        unlink(temporary)
        guard symlink(version, temporary) == 0 else {
            throw CacheError("\(temporary): symlink failed: \(String(cString: strerror(errno)))")
        }
        try Durable.rename(temporary, currentLink)
        try Durable.sync(path)
    }

    private func write(_ h: History) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write([UInt8](try encoder.encode(h)), to: historyPath)
    }

    /// Removes versions staged by a round that was killed (call only while holding the round's lock).
    public func sweepStaging() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        where name.hasPrefix(".incoming-") {
            try? FileManager.default.removeItem(atPath: "\(path)/\(name)")
        }
    }

    /// A new version name from the time: sorts in promotion order, unique to the second.
    public static func versionName(_ date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date)
    }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }
}
