import Foundation

/// Runs `count` independent jobs on up to `threads` threads (blocking), rethrowing the first error.
/// DCMTK decoding and encoding are blocking native work, so they run on plain threads rather than
/// the cooperative pool.
enum ParallelWork {
    static func run(count: Int, threads: Int, _ job: @Sendable (Int) throws -> Void) throws {
        guard count > 0 else { return }
        let workers = max(1, min(threads, count))
        if workers == 1 {
            for index in 0..<count { try job(index) }
            return
        }
        let state = SharedState()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < count, !state.failed {
                do { try job(index) } catch { state.fail(error) }
                index += workers
            }
        }
        if let error = state.error { throw error }
    }

    private final class SharedState: @unchecked Sendable {
        // @unchecked: every access goes through the lock.
        private let lock = NSLock()
        private var firstError: (any Error)?
        var failed: Bool { lock.withLock { firstError != nil } }
        var error: (any Error)? { lock.withLock { firstError } }
        func fail(_ error: any Error) { lock.withLock { if firstError == nil { firstError = error } } }
    }
}
