import Foundation

/// Reuses float buffers by size: a training step allocates the same shapes every iteration, and
/// fresh memory costs seconds per GiB to touch in these VMs (docs NATIVE-LIBS.md).
final class BufferPool: @unchecked Sendable {
    // @unchecked: used from the training thread only; the lock guards tensors freed elsewhere.
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private let lock = NSLock()
    private(set) var allocatedBytes = 0

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        lock.lock()
        defer { lock.unlock() }
        if var list = free[count], let p = list.popLast() {
            free[count] = list
            return p
        }
        allocatedBytes += count * 4
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 4096).bindMemory(
            to: Float.self, capacity: count)
        return p
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        lock.lock()
        free[count, default: []].append(p)
        lock.unlock()
    }

    deinit {
        for list in free.values { for p in list { p.deallocate() } }
    }
}
