import Foundation

/// A child process that worked on untrusted bytes (reading headers, decoding) died by a signal,
/// ran past its deadline or exited without its result. The daemon itself carries on: the job's
/// attempt counts, and after the last allowed one its input is quarantined (`worker_crashed`).
public struct WorkerCrash: Error, Sendable, CustomStringConvertible {
    public enum Cause: Sendable, Equatable {
        case signal(Int32)
        case deadline(seconds: Double)
        case exitStatus(Int32)
    }

    /// What the child was doing, e.g. "decode".
    public var task: String
    public var cause: Cause

    public init(task: String, cause: Cause) {
        self.task = task
        self.cause = cause
    }

    public var description: String {
        switch cause {
        case .signal(let s): "the \(task) worker was killed by signal \(s) (\(String(cString: strsignal(s))))"
        case .deadline(let seconds): "the \(task) worker ran past its deadline of \(Int(seconds)) s and was killed"
        case .exitStatus(let status): "the \(task) worker exited with status \(status) without a result"
        }
    }
}
