import Synchronization
import Testing
import Volumes

@Suite struct ParallelTests {
    struct Stop: Error, Equatable { var item: Int }

    @Test(arguments: [1, 2, 3])
    func everyItemRunsOnce(threads: Int) {
        let hits = Mutex([Int](repeating: 0, count: 101))
        Parallel.forEach(101, threads: threads) { n in hits.withLock { $0[n] += 1 } }
        #expect(hits.withLock { $0 } == [Int](repeating: 1, count: 101))
    }

    @Test(arguments: [1, 2])
    func aThrowingItemIsRethrownAndLaterItemsAreSkipped(threads: Int) {
        let ran = Mutex(0)
        let error = #expect(throws: Stop.self) {
            try Parallel.forEach(1000, threads: threads) { n throws(Stop) in
                ran.withLock { $0 += 1 }
                if n == 3 { throw Stop(item: n) }
            }
        }
        #expect(error == Stop(item: 3))
        // Each thread stops at its next item once the error is recorded.
        #expect(ran.withLock { $0 } < 1000)
    }
}
