import Daemon
import Foundation
import Glibc
import Ingest
import NIfTI
import PhantomDicom
import TestSupport
import Volumes

/// Runs the real `lcovnet serve` binary (from the build folder) on a temporary watch folder, and
/// reads back what it did: results, quarantine, ledger and every stdout line.
final class DaemonHarness {
    let dir: TemporaryDirectory
    let configPath: String
    let watch, work, output, quarantine, archive, spool: String
    private(set) var process: Process?
    private(set) var runs = 0

    /// The `lcovnet` executable beside the test bundle (`swift build --build-tests` builds both).
    static let binary: String = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if folder.lastPathComponent == "MacOS" || folder.path.hasSuffix(".xctest") { folder.deleteLastPathComponent() }
        return folder.appendingPathComponent("lcovnet").path
    }()

    static var binaryExists: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// Phantom identity the DICOM writer puts in every file; it must never reach a log line.
    static let phantomIdentity = ["PHANTOM^LCOVNET", "LCOVNET-PHANTOM"]

    /// The PostgreSQL ledger the daemon was given (`[ledger] url`), or nil for its SQLite file.
    let ledgerURL: String?
    private var postgresLedger: PostgresJobLedger?

    init(
        quietSeconds: Double = 0.8, extra: String = "", maxAttempts: Int = 3, job: String = "kind = \"convert\"",
        memoryBudgetMB: Int = 4096, limits: String = "", ledgerURL: String? = nil, ingest: String = "",
        ledger: String = "", sharedRoot: String? = nil, sharedWatch: Bool = false
    ) throws {
        self.ledgerURL = ledgerURL
        dir = try TemporaryDirectory("daemon")
        watch = sharedWatch ? "\(sharedRoot ?? dir.path)/incoming" : dir.file("incoming")
        work = dir.file("work")
        // Workers sharing a ledger share spool and results (`sharedRoot`); watch and work are their own.
        let shared = sharedRoot ?? dir.path
        output = "\(shared)/results"
        quarantine = "\(shared)/quarantine"
        archive = "\(shared)/archive"
        spool = sharedRoot.map { "\($0)/spool" } ?? "\(work)/spool"
        configPath = dir.file("lcovnet.toml")
        let toml = """
            [paths]
            watch = "\(watch)"
            work = "\(work)"
            output = "\(output)"
            quarantine = "\(quarantine)"
            archive = "\(archive)"
            spool = "\(spool)"
            [ingest]
            quiet_seconds = \(quietSeconds)
            rescan_seconds = 2
            disk_watermark_mb = 1
            \(ingest)
            [job]
            \(job)
            [limits]
            memory_budget_mb = \(memoryBudgetMB)
            max_attempts = \(maxAttempts)
            retry_seconds = 0.5
            drain_seconds = 10
            \(limits)
            [metrics]
            port = 0
            \(ledgerURL.map { "[ledger]\nurl = \"\($0)\"\n\(ledger)" } ?? "")
            \(extra)
            """
        try toml.write(toFile: configPath, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func start(environment: [String: String] = [:]) throws {
        runs += 1
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["serve", "--config", configPath]
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: dir.file("stdout-\(runs).jsonl"), contents: nil)
        _ = FileManager.default.createFile(atPath: dir.file("stderr-\(runs).txt"), contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: dir.file("stdout-\(runs).jsonl"))
        p.standardError = FileHandle(forWritingAtPath: dir.file("stderr-\(runs).txt"))
        try p.run()
        process = p
    }

    /// Sends `signal` and waits for the exit; returns the exit status (-9 when the daemon had to
    /// be killed after 30 s, so a hung daemon fails the test instead of hanging it).
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        guard let process else { return -1 }
        kill(process.processIdentifier, signal)
        if !wait(seconds: 30, { !process.isRunning }) {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            self.process = nil
            return -9
        }
        process.waitUntilExit()
        self.process = nil
        return signal == SIGKILL ? 0 : process.terminationStatus
    }

    var isRunning: Bool { process?.isRunning == true }

    /// Sends `signal` without waiting (SIGSTOP and SIGCONT: a worker stalled and woken).
    func signal(_ signal: Int32) {
        if let process { kill(process.processIdentifier, signal) }
    }

    /// Polls `condition` every 50 ms until it holds or `seconds` pass.
    @discardableResult
    func wait(seconds: Double = 240, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    var stdoutLines: [String] {
        (1...max(1, runs)).flatMap { run in
            ((try? String(contentsOfFile: dir.file("stdout-\(run).jsonl"), encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init)
        }
    }

    var stderrText: String {
        (1...max(1, runs)).map { (try? String(contentsOfFile: dir.file("stderr-\($0).txt"), encoding: .utf8)) ?? "" }
            .joined()
    }

    func logged(_ message: String) -> Bool { stdoutLines.contains { $0.contains("\"message\":\"\(message)\"") } }

    func jobs() -> [JobRecord] {
        if let ledgerURL {
            if postgresLedger == nil { postgresLedger = try? PostgresJobLedger(url: ledgerURL) }
            return (try? postgresLedger?.allJobs()) ?? []
        }
        guard FileManager.default.fileExists(atPath: "\(work)/ledger.sqlite"),
            let ledger = try? SQLiteJobLedger(readOnlyPath: "\(work)/ledger.sqlite")
        else { return [] }
        return (try? ledger.allJobs()) ?? []
    }

    func finished(_ count: Int) -> Bool {
        jobs().filter { [.done, .quarantined, .failed].contains($0.state) }.count >= count
    }

    /// Every path under `folder`, relative to it.
    func tree(_ folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? []).sorted()
    }

    /// Files (not folders) under `folder`, relative to it.
    func files(_ folder: String) -> [String] {
        tree(folder).filter { !FileSystem.isDirectory("\(folder)/\($0)") }
    }
}

/// DICOM series for the tests, written by Ingest's series writer outside the watch folder.
enum DaemonFixtures {
    /// A small CT volume whose voxels differ everywhere (any mix-up of slices or series shows).
    static func volume(size: Extent3, seed: Int) -> Volume<Int16> {
        let las = Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1])
        let geometry = Geometry(size: size, spacing: [0.9, 0.9, 3], origin: [-20, 15, -60], direction: las)
        var voxels = [Int16](repeating: 0, count: size.count)
        for index in 0..<size.count {
            voxels[index] = Int16((index &* 2_654_435_761 &+ seed &* 97_531) % 3000 - 1000)
        }
        return Volume(geometry: geometry, voxels: voxels)
    }

    struct Series {
        var uid: String
        var files: [String]
        var volume: Volume<Int16>
    }

    static func series(in folder: String, size: Extent3 = Extent3(24, 20, 8), seed: Int, number: Int = 1) throws
        -> Series
    {
        let v = volume(size: size, seed: seed)
        var options = DicomWriterOptions()
        options.seriesNumber = number
        let result = try DicomSeriesWriter(options).write(v, to: folder)
        return Series(uid: result.seriesInstanceUID, files: result.files.sorted(), volume: v)
    }

    /// Moves a file into the watch folder the way a DICOM receiver finishes one: appears whole.
    static func drop(_ file: String, into folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileSystem.rename(file, "\(folder)/\(FileSystem.name(file))")
    }
}
