import Dispatch

/// Work spread over a fixed number of threads, so that `--threads N` is honoured and both
/// cores of a small machine are used where the work is large enough to pay for it.
public enum Parallel {
    /// Runs `body(n)` for n in 0..<count on up to `threads` threads; item n goes to thread
    /// n mod threads, so neighbouring slabs run side by side.
    public static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        let workers = max(1, min(threads, count))
        if workers == 1 {
            for n in 0..<count { body(n) }
            return
        }
        // The workers write disjoint parts of buffers the caller owns until this returns.
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var n = worker
            while n < count {
                work(n)
                n += workers
            }
        }
    }

    /// Splits 0..<count into ranges of at most `grain` items.
    public static func chunks(_ count: Int, grain: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: max(1, grain)).map { $0..<min(count, $0 + max(1, grain)) }
    }
}
