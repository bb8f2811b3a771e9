/// One stage of the pipeline (decode, compute or write): at most `workers` jobs inside it, and
/// in front of it a FIFO queue of at most `capacity` jobs. A job done with the previous stage
/// waits for room in this queue while still holding its place there, so a full queue stops the
/// stage before it: back-pressure from write to compute to decode, and from decode to the
/// scheduler, which admits a job only while the decode queue has room.
public actor PipelineStage {
    public let name: String
    let workers: Int
    let capacity: Int
    private var inside = 0
    /// Jobs queued for a worker, in arrival order.
    private var queued: [CheckedContinuation<Void, Never>] = []
    /// Jobs of the previous stage waiting for room in the queue.
    private var blocked: [CheckedContinuation<Void, Never>] = []

    public init(name: String, workers: Int = 1, capacity: Int = 1) {
        self.name = name
        self.workers = max(1, workers)
        self.capacity = max(1, capacity)
    }

    /// Jobs queued in front of the stage (the metrics' queue depth).
    public var depth: Int { queued.count }
    /// Jobs inside the stage.
    public var busy: Int { inside }
    /// Whether one more job could join the queue now.
    public var hasRoom: Bool { queued.count + blocked.count < capacity || inside < workers }

    /// Enters the stage: waits for room in its queue (still holding `previous`), leaves
    /// `previous`, then waits for a worker.
    public func enter(leaving previous: PipelineStage?) async {
        while queued.count >= capacity {
            await withCheckedContinuation { blocked.append($0) }
        }
        if let previous { await previous.leave() }
        if inside < workers && queued.isEmpty {
            inside += 1
            return
        }
        await withCheckedContinuation { queued.append($0) }
        // `leave` handed its worker to this job.
    }

    /// Leaves the stage: its worker goes to the first job in the queue, which makes room there.
    public func leave() {
        if queued.isEmpty {
            inside -= 1
        } else {
            queued.removeFirst().resume()
            if !blocked.isEmpty { blocked.removeFirst().resume() }
        }
    }
}
