import Foundation
import Logging
import Testing

@testable import Daemon

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
        let decode = PipelineStage(name: "decode")
        let compute = PipelineStage(name: "compute")
        let order = Order()
        // Job 1 goes through decode into compute and stays there.
        await decode.enter(leaving: nil)
        await compute.enter(leaving: decode)
        #expect(await state(decode, compute) == [0, 1, 0])
        // Job 2 leaves decode and waits in compute's queue.
        await decode.enter(leaving: nil)
        let second = Task {
            await compute.enter(leaving: decode)
            await order.add(2)
        }
        #expect(await reaches([0, 1, 1], decode, compute))
        // Job 3 is decoded but finds compute's queue full: it keeps its place in decode.
        await decode.enter(leaving: nil)
        let third = Task {
            await compute.enter(leaving: decode)
            await order.add(3)
        }
        try? await Task.sleep(for: .milliseconds(50))
        #expect(await state(decode, compute) == [1, 1, 1])
        #expect(await decode.hasRoom)  // one more job may still queue in front of decode

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

/// How many jobs are in flight follows the memory budget.
@Suite struct AdmissionTests {
    struct Processor: SeriesProcessor {
        var residentMB: Int { 1000 }
        func workingSetMB(inputBytes: Int64) -> Int { Int(inputBytes >> 20) * 2 + 16 }
        func decode(series: ClaimedSeries, logger: Logger) async throws -> Decoding<Int> {
            .decoded(0, workingSetMB: 0)
        }
        func compute(_ decoded: Int, series: ClaimedSeries, logger: Logger) async throws -> Int { 0 }
        func write(_ computed: Int, series: ClaimedSeries, into resultDir: String, logger: Logger) async throws
            -> ProcessingOutcome
        {
            .completed(seriesUID: nil)
        }
    }

    @Test func jobsEnterWhileTheirWorkingSetsFitBesideTheResidentPart() {
        var config = DaemonConfiguration.defaults
        config.limits.memoryBudgetMB = 4096
        config.limits.concurrency = 3
        let budget = DaemonService.jobBudgetMB(config, processor: Processor())
        #expect(budget == 3096)
        let need = Processor().workingSetMB(inputBytes: 1000 << 20)  // 2016 MB
        #expect(DaemonService.admits(need: need, inFlight: 0, reservedMB: 0, budgetMB: budget, concurrency: 3))
        #expect(!DaemonService.admits(need: need, inFlight: 1, reservedMB: need, budgetMB: budget, concurrency: 3))
        let small = Processor().workingSetMB(inputBytes: 400 << 20)  // 816 MB
        #expect(DaemonService.admits(need: small, inFlight: 1, reservedMB: need, budgetMB: budget, concurrency: 3))
        #expect(
            !DaemonService.admits(need: small, inFlight: 2, reservedMB: need + small, budgetMB: budget, concurrency: 3))
        // Within the budget but not within `concurrency`.
        #expect(!DaemonService.admits(need: 16, inFlight: 3, reservedMB: 48, budgetMB: budget, concurrency: 3))
        // Larger than the whole budget: alone, never beside another job.
        #expect(DaemonService.admits(need: 5000, inFlight: 0, reservedMB: 0, budgetMB: budget, concurrency: 3))
        #expect(!DaemonService.admits(need: 5000, inFlight: 1, reservedMB: 16, budgetMB: budget, concurrency: 3))
    }
}
