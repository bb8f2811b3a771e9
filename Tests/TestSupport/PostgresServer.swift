import Foundation

/// A private PostgreSQL server for one test (Debian's postgresql package): its own cluster in a
/// temporary folder, on a free loopback port, stopped and removed with the object. Run as root,
/// the server runs as the `postgres` user (PostgreSQL refuses root).
public final class PostgresServer: @unchecked Sendable {
    // @unchecked: immutable after init.
    public let port: Int
    public let url: String
    private let folder: TemporaryDirectory
    private let binaries: String
    private var data: String { folder.file("data") }

    /// The newest installed server's programs, or nil when PostgreSQL is not installed.
    public static let binaries: String? = {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init)
            .sorted()
        guard let newest = versions.last else { return nil }
        let folder = "\(root)/\(newest)/bin"
        return FileManager.default.isExecutableFile(atPath: "\(folder)/initdb") ? folder : nil
    }()

    public init() throws {
        guard let binaries = Self.binaries else {
            throw ReferenceError(message: "PostgreSQL is not installed (scripts/install-deps.sh)")
        }
        self.binaries = binaries
        folder = try TemporaryDirectory("postgres")
        port = try Self.freePort()
        url = "postgresql://lcovnet@127.0.0.1:\(port)/postgres?connect_timeout=5"
        if getuid() == 0 {
            try Self.check(ReferenceTools.run("/bin/chown", ["-R", "postgres:postgres", folder.path]), "chown")
        }
        try Self.check(
            asServerUser("initdb", ["-D", data, "-A", "trust", "-U", "lcovnet", "-E", "UTF8", "--no-sync"]), "initdb")
        try start()
    }

    deinit { _ = try? asServerUser("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]) }

    /// Starts the server (again); returns once it accepts connections.
    public func start() throws {
        let options = "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c fsync=off"
        try Self.check(
            asServerUser(
                "pg_ctl", ["-D", data, "-l", folder.file("server.log"), "-o", options, "-w", "-t", "30", "start"]),
            "pg_ctl start")
    }

    /// Stops the server (fast: clients are disconnected, transactions rolled back).
    public func stop() throws {
        try Self.check(asServerUser("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]), "pg_ctl stop")
    }

    /// Runs SQL through psql as the test's superuser.
    @discardableResult
    public func psql(_ sql: String) throws -> String {
        let result = try ReferenceTools.run(
            "\(binaries)/psql", ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        try Self.check(result, "psql")
        return result.stdout
    }

    /// Spawned and waited for with posix_spawn and waitpid, output to a file: the server pg_ctl
    /// starts inherits the descriptors Foundation's Process watches a child's end through (and a
    /// pipe's), so Process would wait for the server to stop.
    private func asServerUser(_ program: String, _ arguments: [String]) throws -> ReferenceTools.Result {
        let executable = getuid() == 0 ? "/usr/sbin/runuser" : "\(binaries)/\(program)"
        let argv =
            [executable] + (getuid() == 0 ? ["-u", "postgres", "--", "\(binaries)/\(program)"] + arguments : arguments)
        let output = folder.file("\(program).out")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw ReferenceError(message: "\(program): posix_spawn failed (\(spawned))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return ReferenceTools.Result(status: exitCode, stdout: text, stderr: "")
    }

    private static func check(_ result: ReferenceTools.Result, _ what: String) throws {
        guard result.status == 0 else {
            throw ReferenceError(message: "\(what) failed (\(result.status)): \(result.stderr)\(result.stdout)")
        }
    }

    /// A port the kernel had free a moment ago.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ReferenceError(message: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw ReferenceError(message: "bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
