import Dispatch

/// Work spread over a fixed number of threads, so that `--threads N` is honoured and both
/// cores of a small machine are used where the work is large enough to pay for it. Plain
/// threads, not the cooperative pool: callers run blocking native work (DCMTK, oneDNN) too.
public enum Parallel {
    /// Runs `body(n)` for n in 0..<count on up to `threads` threads; item n goes to thread
    /// n mod threads, so neighbouring slabs run side by side. When an item throws, items not
    /// yet started are skipped and the first error is rethrown once every thread is done.
    public static func forEach<E: Error>(_ count: Int, threads: Int, _ body: (Int) throws(E) -> Void) throws(E) {
        let workers = max(1, min(threads, count))
        if workers == 1 {
            for n in 0..<count { try body(n) }
            return
        }
        // The workers write disjoint parts of buffers the caller owns until this returns.
        nonisolated(unsafe) let work = body
        let failure = FirstFailure<E>()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var n = worker
            while n < count, !failure.happened {
                do throws(E) { try work(n) } catch { failure.record(error) }
                n += workers
            }
        }
        if let error = failure.error { throw error }
    }

    /// Splits 0..<count into ranges of at most `grain` items.
    public static func chunks(_ count: Int, grain: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: max(1, grain)).map { $0..<min(count, $0 + max(1, grain)) }
    }
}

/// The first error the workers of one `forEach` report.
private final class FirstFailure<E: Error>: @unchecked Sendable {
    // @unchecked: every access goes through the semaphore.
    private let lock = DispatchSemaphore(value: 1)
    private var first: E?

    var happened: Bool {
        lock.wait()
        defer { lock.signal() }
        return first != nil
    }
    var error: E? {
        lock.wait()
        defer { lock.signal() }
        return first
    }

    func record(_ error: E) {
        lock.wait()
        if first == nil { first = error }
        lock.signal()
    }
}
