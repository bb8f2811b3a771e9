import Daemon
import Foundation
import Glibc
import TestSupport
import Testing

/// What `lcovnet serve` refuses before it serves anything: a second daemon on the same work
/// folder, a watch path that is a file, a work folder it cannot write, and folders that overlap
/// once their paths are resolved. Each refusal is exit 78 with a line naming the key and path.
@Suite struct StartupChecksTests {
    // MARK: The lock, in process

    @Test func aSecondLockOnOneWorkFolderIsRefusedNamingTheLockFileAndTheHolder() throws {
        let dir = try TemporaryDirectory("lock")
        var first: WorkFolderLock? = try WorkFolderLock(work: dir.path, file: "test.toml")
        #expect(first?.path == dir.file("lcovnet.lock"))
        #expect {
            try WorkFolderLock(work: dir.path, file: "test.toml")
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == "paths.work" && error.file == "test.toml"
                && error.problem.contains(dir.file("lcovnet.lock")) && error.problem.contains("pid \(getpid())")
        }
        first = nil  // released: the next daemon may start
        #expect(try WorkFolderLock(work: dir.path).path == dir.file("lcovnet.lock"))
        _ = first
    }

    // MARK: Resolved paths

    func overlap(_ paths: [String: String]) -> ConfigurationError? {
        let toml =
            "[paths]\n" + paths.sorted { $0.key < $1.key }.map { "\($0.key) = \"\($0.value)\"" }.joined(separator: "\n")
        do {
            _ = try ConfigurationLoader.parse(toml, file: "t.toml")
            return nil
        } catch {
            return error
        }
    }

    @Test func aDoubleSlashOrDotDotCannotHideAnOverlap() throws {
        let base = [
            "watch": "/srv/lc/in", "work": "/srv/lc/work", "quarantine": "/srv/lc/q", "archive": "/srv/lc/archive"
        ]
        #expect(overlap(base.merging(["output": "/srv/lc/out"]) { $1 }) == nil)
        let doubled = try #require(overlap(base.merging(["output": "/srv//lc/in/results"]) { $1 }))
        #expect(doubled.key == "paths.watch" || doubled.key == "paths.output")
        #expect(doubled.problem.contains("overlaps"))
        let dotted = try #require(overlap(base.merging(["output": "/srv/lc/out/../in"]) { $1 }))
        #expect(dotted.problem.contains("overlaps"))
    }

    @Test func anOutputThatIsASymlinkToTheWatchFolderOverlapsIt() throws {
        let dir = try TemporaryDirectory("paths")
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("out"), withDestinationPath: dir.file("in"))
        let error = try #require(
            overlap([
                "watch": dir.file("in"), "output": dir.file("out"), "work": dir.file("work"),
                "quarantine": dir.file("q"), "archive": dir.file("archive")
            ]))
        #expect(error.problem.contains("overlaps"))
        #expect(error.description.contains(dir.file("out")) || error.description.contains(dir.file("in")))
        // A folder below the link is inside the watch folder too.
        #expect(
            overlap([
                "watch": dir.file("in"), "output": dir.file("out/results"), "work": dir.file("work"),
                "quarantine": dir.file("q"), "archive": dir.file("archive")
            ]) != nil)
        #expect(
            ConfigurationLoader.resolvedPath(dir.file("out") + "//x/./y/..") == ConfigurationLoader.resolvedPath(
                dir.file("in")) + "/x")
    }
}

/// The same refusals from the real binary: exit status 78 and one line naming key and path.
@Suite(.serialized, .enabled(if: DaemonHarness.binaryExists, "needs the lcovnet binary (swift build --build-tests)"))
struct StartupProcessTests {
    /// Runs `lcovnet serve --config` to its end (at most 60 s); returns the status and stderr.
    func serveUntilExit(_ h: DaemonHarness) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DaemonHarness.binary)
        p.arguments = ["serve", "--config", h.configPath]
        let stderr = Pipe()
        p.standardError = stderr
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (p.terminationStatus, text)
    }

    @Test func aSecondServeOnOneWorkFolderExits78NamingTheLock() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(h.wait(seconds: 60) { h.logged("daemon started") })
        let (status, text) = try serveUntilExit(h)
        #expect(status == 78)
        #expect(text.contains("\(h.work)/lcovnet.lock"), "\(text)")
        #expect(text.split(separator: "\n").count == 1, "\(text)")
        #expect(h.isRunning)  // the first one serves on
        #expect(h.stop() == 0)
        // Its lock went with it: the next start serves.
        try h.start()
        #expect(
            h.wait(seconds: 60) {
                h.logged("daemon started") && h.stdoutLines.filter { $0.contains("\"daemon started\"") }.count == 2
            })
        #expect(h.stop() == 0)
    }

    @Test func aWatchPathThatIsAFileExits78NamingKeyAndPath() throws {
        let h = try DaemonHarness()
        try FileManager.default.removeItem(atPath: h.watch)
        try "not a folder\n".write(toFile: h.watch, atomically: true, encoding: .utf8)
        let (status, text) = try serveUntilExit(h)
        #expect(status == 78)
        #expect(text.contains("paths.watch") && text.contains(h.watch), "\(text)")
    }

    @Test func aWorkFolderThatCannotBeWrittenExits78NamingKeyAndPath() throws {
        let h = try DaemonHarness()
        try FileManager.default.createDirectory(atPath: h.work, withIntermediateDirectories: true)
        // Mode bits do not bind root: make the folder immutable instead (undone below).
        let root = getuid() == 0
        if root {
            let chattr = Process()
            chattr.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            chattr.arguments = ["+i", h.work]
            try chattr.run()
            chattr.waitUntilExit()
            try #require(chattr.terminationStatus == 0, "chattr +i is needed to make a folder unwritable for root")
        } else {
            chmod(h.work, 0o500)
        }
        defer {
            if root {
                let undo = Process()
                undo.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
                undo.arguments = ["-i", h.work]
                try? undo.run()
                undo.waitUntilExit()
            } else {
                chmod(h.work, 0o700)
            }
        }
        let (status, text) = try serveUntilExit(h)
        #expect(status == 78)
        #expect(text.contains("paths.work") && text.contains(h.work) && text.contains("not writable"), "\(text)")
    }
}
