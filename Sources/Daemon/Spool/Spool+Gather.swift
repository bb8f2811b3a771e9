import Foundation
import Volumes

/// Late files: a file of a series that arrives after the series was claimed forms a job of its
/// own. When that job is about to start, it first takes every input an earlier job of the same
/// series still holds (a job not started yet, a committed job's kept or archived inputs, a
/// quarantined or failed job's files), so the series is processed whole and its result replaced
/// in one step. A job whose files all repeat, byte for byte, inputs of the committed result is
/// not processed again (`already_processed`).
extension Spool {
    /// What to do with a job that is about to start.
    public enum Gathering: Sendable, Equatable {
        /// Start it: its input folder holds every file of the series still held. `merged` are
        /// the earlier jobs, not started yet, whose files it took (now done with code `merged`,
        /// as are quarantined or failed ones whose files it took).
        case ready(JobRecord, merged: [String])
        /// Every file repeats an input of this committed job: nothing new to process.
        case duplicate(of: JobRecord)
    }

    /// gather.json in the job's spool folder, written before any file moves.
    struct GatherManifest: Codable, Sendable {
        var sources: [String]
        var entries: [ClaimManifest.Entry]
    }

    /// Where an earlier job's inputs are now, if it still holds any.
    func heldInputs(of job: JobRecord) -> String? {
        [inputFolder(job.id), "\(paths.archive)/\(job.id)", "\(paths.quarantine)/\(job.id)/files"]
            .first { FileSystem.isDirectory($0) && !FileSystem.entries($0).isEmpty }
    }

    /// Whether every file of `files` repeats, byte for byte, one of `held`. The held files are
    /// keyed by size and FNV-1a of their bytes, so each file is compared only with those of its
    /// key (a series sent again whole reads each file once, not every pair).
    static func allRepeat(_ files: [String], in held: [String]) -> Bool {
        func key(_ path: String) -> String? {
            guard let info = FileSystem.info(path), info.isRegular,
                let bytes = FileManager.default.contents(atPath: path)
            else { return nil }
            return "\(info.size)-\(StableHash.fnv1a(bytes: bytes))"
        }
        var index: [String: [String]] = [:]
        for path in held { if let k = key(path) { index[k, default: []].append(path) } }
        return files.allSatisfy { file in
            key(file).flatMap { index[$0] }?.contains { FileSystem.sameContents(file, $0) } ?? false
        }
    }

    /// Gathers the series of `job` (queued, step claimed) into its input folder.
    public func gather(_ job: JobRecord, now: Double) throws -> Gathering {
        guard let uid = job.seriesUID else { return .ready(job, merged: []) }
        let earlier = try ledger.jobs(seriesUID: uid).filter {
            $0.id < job.id && [.queued, .done, .quarantined, .failed].contains($0.state)
        }
        let sources = earlier.compactMap { source in heldInputs(of: source).map { (source, $0) } }
        let own = FileSystem.entries(inputFolder(job.id)).map { "\(inputFolder(job.id))/\($0)" }
        let held = sources.flatMap { _, folder in FileSystem.entries(folder).map { "\(folder)/\($0)" } }

        if let done = try ledger.doneJob(seriesUID: uid), let dir = done.resultDir, FileSystem.exists(dir),
            !own.isEmpty
        {
            // The committed job may be a later one (another worker claimed its copy after this
            // job's and ran it first): its inputs count whatever its place.
            let committed =
                sources.contains { $0.0.id == done.id }
                ? [] : heldInputs(of: done).map { folder in FileSystem.entries(folder).map { "\(folder)/\($0)" } } ?? []
            if Self.allRepeat(own, in: held + committed) { return .duplicate(of: done) }
        }
        guard !sources.isEmpty else { return .ready(job, merged: []) }

        var used = Set(FileSystem.entries(inputFolder(job.id)))
        var entries: [ClaimManifest.Entry] = []
        for file in held {
            var name = FileSystem.name(file)
            while used.contains(name) { name = "_" + name }
            used.insert(name)
            entries.append(.init(from: file, name: name))
        }
        // The earlier jobs become this worker's (one queued on another worker would otherwise
        // start there too: its start is now fenced out).
        let taken = try ledger.take(sources.map(\.0), for: worker)
        let manifest = GatherManifest(sources: sources.map(\.0.id), entries: entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileSystem.writeAtomically(Array(try encoder.encode(manifest)), to: "\(jobFolder(job.id))/gather.json")

        // One transaction: this job is gathering, and each source says where its inputs went.
        var job = job
        job.step = .gathering
        var rows = [job]
        var merged: [String] = []
        for source in taken {
            var source = source
            if source.state == .done {
                // Its result stands until the new one replaces it.
                source.reason = [source.reason, "Its inputs joined job \(job.id) of the same series."].compactMap { $0 }
                    .joined(separator: " ")
            } else {
                // Not started, quarantined or failed: nothing of it is left to see to.
                let earlier = source.reasonCode.map { " Before: \($0): \(source.reason ?? "")" } ?? ""
                if source.state == .queued { merged.append(source.id) }
                source.state = .done
                source.step = .finished
                source.reasonCode = DaemonCode.merged.rawValue
                source.reason = "\(DaemonCode.merged.sentence) Job \(job.id).\(earlier)"
                source.resultDir = nil
                source.finishedAt = now
            }
            rows.append(source)
        }
        try ledger.update(rows)
        return .ready(try finishGather(job), merged: merged)
    }

    /// Moves every file gather.json lists that is still at its source; removes the emptied
    /// source folders; back to step `claimed` with the new file count.
    func finishGather(_ job: JobRecord) throws -> JobRecord {
        let path = "\(jobFolder(job.id))/gather.json"
        let manifest = try JSONDecoder().decode(GatherManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        let folders = try moveIntoInput(manifest.entries, of: job.id)
        for folder in folders where FileSystem.exists(folder) {
            try FileSystem.sync(folder)
            guard FileSystem.entries(folder).isEmpty else { continue }
            // The container of the moved files: spool/<id>, archive/<id> or quarantine/<id>.
            let container =
                folder.hasSuffix("/input") || folder.hasSuffix("/files") ? FileSystem.parent(folder) : folder
            try FileSystem.removeTree(container)
            try FileSystem.sync(FileSystem.parent(container))
        }
        var job = job
        let files = FileSystem.entries(inputFolder(job.id)).map { "\(inputFolder(job.id))/\($0)" }
        job.step = .claimed
        job.fileCount = files.count
        job.inputBytes = files.reduce(Int64(0)) { $0 + (FileSystem.info($1)?.size ?? 0) }
        try ledger.update(job)
        try FileSystem.removeTree(path)
        return job
    }
}
