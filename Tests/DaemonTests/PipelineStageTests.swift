@testable import Daemon
import Foundation
import Testing

/// A stage holds at most `workers` jobs and queues at most `capacity` in front of it; a job that
/// finds the queue full keeps its place in the stage before (back-pressure).
@Suite struct PipelineStageTests {
    /// [jobs inside decode, inside compute, queued in front of compute].
    func state(_ decode: PipelineStage, _ compute: PipelineStage) async -> [Int] {
        [await decode.busy, await compute.busy, await compute.depth]
    }

    /// Polls until the state is `expected` (the tasks run on the cooperative pool).
    func reaches(_ expected: [Int], _ decode: PipelineStage, _ compute: PipelineStage) async -> Bool {
        for _ in 0..<400 {
            if await state(decode, compute) == expected { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    @Test func aFullQueueStopsTheStageBefore() async {
        let decode = PipelineStage(name: "decode"), compute = PipelineStage(name: "compute")
        let order = Order()
        // Job 1 goes through decode into compute and stays there.
        await decode.enter(leaving: nil)
        await compute.enter(leaving: decode)
        #expect(await state(decode, compute) == [0, 1, 0])
        // Job 2 leaves decode and waits in compute's queue.
        await decode.enter(leaving: nil)
        let second = Task { await compute.enter(leaving: decode); await order.add(2) }
        #expect(await reaches([0, 1, 1], decode, compute))
        // Job 3 is decoded but finds compute's queue full: it keeps its place in decode.
        await decode.enter(leaving: nil)
        let third = Task { await compute.enter(leaving: decode); await order.add(3) }
        try? await Task.sleep(for: .milliseconds(50))
        #expect(await state(decode, compute) == [1, 1, 1])
        #expect(await decode.hasRoom)   // one more job may still queue in front of decode

        // Job 1 leaves compute: job 2 takes the worker, job 3 moves into the queue and frees decode.
        await compute.leave()
        #expect(await reaches([0, 1, 1], decode, compute))
        await second.value
        #expect(await order.values == [2])
        await compute.leave()
        await third.value
        #expect(await order.values == [2, 3])
        #expect(await state(decode, compute) == [0, 1, 0])
        await compute.leave()
        #expect(await state(decode, compute) == [0, 0, 0])
    }

    actor Order {
        var values: [Int] = []
        func add(_ value: Int) { values.append(value) }
    }
}
