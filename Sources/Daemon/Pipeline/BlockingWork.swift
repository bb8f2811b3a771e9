import Foundation

/// Runs blocking work (DICOM decoding, file writing) on a thread of its own, so the cooperative
/// pool, which has one thread per core, keeps serving the daemon's loop.
public enum BlockingWork {
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try work() })
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
