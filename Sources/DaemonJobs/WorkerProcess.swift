import Daemon
import Foundation

/// Untrusted bytes (a DICOM file's headers, a series' pixel data) are read in a child process,
/// the hidden `lcovnet worker` command, so that a crash in a decoder or a runaway allocation
/// ends the child, not the daemon and the jobs beside it. The child sets its own limits before
/// it reads anything; the parent kills it at the deadline.
public struct WorkerProcess: Sendable {
    /// The `lcovnet` binary (the daemon's own).
    public var executable: String
    /// The child's address space (RLIMIT_AS): a decoder that asks for more gets a failed
    /// allocation, not the machine's memory.
    public var addressSpaceMB: Int
    /// CPU seconds (RLIMIT_CPU) and wall-clock seconds before the child is killed.
    public var cpuSeconds: Int
    public var deadlineSeconds: Double

    public init(executable: String, addressSpaceMB: Int, cpuSeconds: Int = 600, deadlineSeconds: Double = 900) {
        self.executable = executable
        self.addressSpaceMB = addressSpaceMB
        self.cpuSeconds = cpuSeconds
        self.deadlineSeconds = deadlineSeconds
    }

    /// The daemon's workers: its own binary, the memory budget plus 1 GiB of address space for
    /// what a process maps besides its data (runtime, libraries, thread stacks, malloc arenas).
    public static func forDaemon(_ c: DaemonConfiguration) -> WorkerProcess {
        let own =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return WorkerProcess(executable: own, addressSpaceMB: c.limits.memoryBudgetMB + 1024)
    }

    /// The limits of a job's compute or write child: `seconds` of wall clock, as many CPU seconds
    /// per thread and a little more (the deadline is the limit; CPU time is its backstop), and
    /// room in the address space for each thread's malloc arena (64 MiB reserved apiece by glibc).
    public func forJob(seconds: Double, threads: Int) -> WorkerProcess {
        WorkerProcess(
            executable: executable, addressSpaceMB: addressSpaceMB + 64 * threads,
            cpuSeconds: Int(seconds.rounded(.up)) * threads + 10, deadlineSeconds: seconds)
    }

    /// Exit status of a worker that could not read its input for now (I/O): the job is retried.
    public static let temporaryFailure: Int32 = 75

    /// The arguments the child's limits travel in (`lcovnet worker` reads them first).
    var limitArguments: [String] { ["--address-space-mb", "\(addressSpaceMB)", "--cpu-seconds", "\(cpuSeconds)"] }

    /// Runs `lcovnet worker <task> <arguments>` with its stderr in `stderrPath` (kept beside the
    /// job for a person to read; never logged: a decoder's messages may quote header values).
    /// Returns the exit status (0 or `temporaryFailure`); a signal, the deadline or another
    /// status throws `WorkerCrash`.
    public func run(_ task: String, _ arguments: [String], stderrPath: String) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["worker", task] + limitArguments + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        guard FileManager.default.createFile(atPath: stderrPath, contents: nil),
            let log = FileHandle(forWritingAtPath: stderrPath)
        else {
            throw SystemCallError("create", path: stderrPath)
        }
        defer { try? log.close() }
        process.standardError = log
        let killed = KilledFlag()
        let status: (Process.TerminationReason, Int32) = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = {
                continuation.resume(returning: ($0.terminationReason, $0.terminationStatus))
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: SystemCallError("spawn \(executable)", path: executable, errno: ENOEXEC))
                return
            }
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + deadlineSeconds) {
                if process.isRunning {
                    killed.set()
                    kill(pid, SIGKILL)
                }
            }
        }
        switch status {
        case (.uncaughtSignal, let signal):
            throw WorkerCrash(task: task, cause: killed.isSet ? .deadline(seconds: deadlineSeconds) : .signal(signal))
        case (_, 0), (_, Self.temporaryFailure):
            return status.1
        case (_, let other):
            throw WorkerCrash(task: task, cause: .exitStatus(other))
        }
    }
}

/// Set once the deadline has killed the child (read after it ended).
private final class KilledFlag: @unchecked Sendable {
    // @unchecked: the flag is only touched under the lock.
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
