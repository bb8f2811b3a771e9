/// The jobs running now, with their memory reservations, and the one decision that shutdown
/// and a finishing job must not both take: a job either commits or is checkpointed, never both.
actor RunningJobs {
    enum State {
        case running(reservationMB: Int, seriesUID: String?)
        case committing(reservationMB: Int, seriesUID: String?)
    }

    private var jobs: [String: State] = [:]
    private var abandoned = false
    private var stranded: [String] = []
    private var deferred: [JobRecord] = []

    var count: Int { jobs.count }

    var reservedMB: Int {
        jobs.values.reduce(0) { total, state in
            switch state {
            case .running(let mb, _), .committing(let mb, _): total + mb
            }
        }
    }

    var seriesUIDs: Set<String> {
        Set(
            jobs.values.compactMap { state in
                switch state {
                case .running(_, let uid), .committing(_, let uid): uid
                }
            })
    }

    func start(_ id: String, reservationMB: Int, seriesUID: String?) {
        jobs[id] = .running(reservationMB: reservationMB, seriesUID: seriesUID)
    }

    /// The job's working set once its size is known (after decoding).
    func adjust(_ id: String, reservationMB: Int) {
        guard case .running(_, let uid) = jobs[id] else { return }
        jobs[id] = .running(reservationMB: reservationMB, seriesUID: uid)
    }

    /// Whether the job may go on to its next stage; false once shutdown has checkpointed it.
    func isActive(_ id: String) -> Bool {
        guard !abandoned, case .running = jobs[id] else { return false }
        return true
    }

    /// Whether the job may write its outcome; false once shutdown has checkpointed it.
    func beginCommit(_ id: String) -> Bool {
        guard !abandoned, case .running(let mb, let uid) = jobs[id] else { return false }
        jobs[id] = .committing(reservationMB: mb, seriesUID: uid)
        return true
    }

    func finish(_ id: String) {
        jobs[id] = nil
    }

    /// A job whose step could not be recorded (the disk was full): the loop resumes it later.
    func strand(_ id: String) {
        jobs[id] = nil
        stranded.append(id)
    }

    func takeStranded() -> [String] {
        defer { stranded = [] }
        return stranded
    }

    /// A job deferred to a later attempt (a transient error, a crashed worker): back to the
    /// loop's queue, which starts it once its next attempt is due.
    func requeue(_ job: JobRecord) {
        deferred.append(job)
    }

    func takeDeferred() -> [JobRecord] {
        defer { deferred = [] }
        return deferred
    }

    /// At the end of the drain: the jobs still processing are given up (their caller checkpoints
    /// them); jobs already committing are left to finish.
    func abandonRunning() -> [String] {
        abandoned = true
        let ids = jobs.compactMap { id, state -> String? in
            if case .running = state { return id } else { return nil }
        }
        for id in ids { jobs[id] = nil }
        return ids
    }
}
