import Foundation

/// Replaces training phantoms during a run: after every `every` steps one slot of the pool
/// (round robin) takes the next seed of `seeds`, so a long run sees far more anatomy than the
/// pool holds in memory at once.
public struct PhantomRefresh: Sendable, Codable, Equatable {
    public var every: Int
    public var seeds: [UInt64]

    public init(every: Int, seeds: [UInt64]) {
        self.every = every
        self.seeds = seeds
    }
}

/// Which phantom seed each slot of the training pool holds at a step: a pure function of the
/// step, so a resumed run rebuilds the pool its checkpoint was trained on.
struct PhantomPool {
    let initial: [UInt64]
    let refresh: PhantomRefresh?

    private var active: PhantomRefresh? {
        guard let r = refresh, r.every > 0, !r.seeds.isEmpty, !initial.isEmpty else { return nil }
        return r
    }

    /// The seeds after the refreshes of steps 1...step (only the last pool-size ones matter).
    func seeds(atStep step: Int) -> [UInt64] {
        var pool = initial
        guard let r = active else { return pool }
        let done = step / r.every
        for i in max(0, done - pool.count)..<done { pool[i % pool.count] = r.seeds[i % r.seeds.count] }
        return pool
    }

    /// The first replacement due after `step` steps are done: its step and seed, if any.
    func nextReplacement(afterStep step: Int) -> (step: Int, seed: UInt64)? {
        guard let r = active else { return nil }
        let next = (step / r.every + 1) * r.every
        return replacement(afterStep: next).map { (next, $0.seed) }
    }

    /// The replacement due once `step` steps are done, if any.
    func replacement(afterStep step: Int) -> (slot: Int, seed: UInt64)? {
        guard let r = active, step > 0, step % r.every == 0 else { return nil }
        let i = step / r.every - 1
        return (i % initial.count, r.seeds[i % r.seeds.count])
    }
}
