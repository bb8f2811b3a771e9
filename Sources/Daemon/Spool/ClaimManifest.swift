import Foundation

/// claim.json in a job's spool folder, written before any file moves: which files the job
/// takes and under which names, so that a claim cut short by a crash is finished on restart.
struct ClaimManifest: Codable, Sendable {
    struct Entry: Codable, Sendable {
        /// Absolute path in the watch folder.
        var from: String
        /// Name inside the job's input folder.
        var name: String
    }

    var jobID: String
    var seriesUID: String?
    var source: String
    var entries: [Entry]
    /// Set for a batch of files that cannot be processed: they go straight to quarantine.
    var rejection: QuarantineReason?

    static func read(_ path: String) throws -> ClaimManifest {
        try JSONDecoder().decode(ClaimManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func write(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileSystem.writeAtomically(Array(try encoder.encode(self)), to: path)
    }
}

/// reason.json beside quarantined files.
struct QuarantineRecord: Codable, Sendable {
    var jobID: String
    var seriesUID: String?
    var code: String
    var sentence: String
    var detail: String?
    var fileCount: Int
    var time: String

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", seriesUID = "series_uid", code, sentence, detail, fileCount = "file_count", time
    }
}
