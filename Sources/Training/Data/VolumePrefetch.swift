import Foundation

/// The training volume of the pool's next refresh, made on a thread of its own while the steps
/// before it run: synthesizing one scan takes as long as several steps, and with a core to spare
/// the run no longer stops for it. The volume depends on its seed alone, so a run with prefetch
/// trains on exactly what a run without it does.
final class VolumePrefetch: @unchecked Sendable {
    let seed: UInt64
    private let finished = DispatchSemaphore(value: 0)
    private var result: Result<TrainingVolume, any Error>?  // written once by the thread, before `finished`

    init(seed: UInt64, make: @escaping @Sendable () throws -> TrainingVolume) {
        self.seed = seed
        let thread = Thread { [self] in
            result = Result { try make() }
            finished.signal()
        }
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Waits for the volume (or the error that stopped it).
    func value() throws -> TrainingVolume {
        finished.wait()
        finished.signal()
        return try result!.get()
    }

    /// Whether a spare core can take the synthesis: more cores than the run's own threads.
    static func worthwhile(threads: Int) -> Bool { ProcessInfo.processInfo.activeProcessorCount > threads }
}
