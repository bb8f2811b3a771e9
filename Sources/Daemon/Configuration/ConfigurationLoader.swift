import Foundation
import Logging
import TOMLKit

/// Reads lcovnet.toml: every key is known, typed and range-checked, and every problem is
/// reported with the key and a fix. Keys left out take the defaults of `DaemonConfiguration`.
public enum ConfigurationLoader {
    public static func load(file: String) throws(ConfigurationError) -> DaemonConfiguration {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigurationError(
                file: file, key: "", problem: "cannot be read",
                fix: "give an existing file with --config (an example is etc/lcovnet/lcovnet.toml)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file)
    }

    public static func parse(_ text: String, file: String = "lcovnet.toml") throws(ConfigurationError)
        -> DaemonConfiguration
    {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(
                file: file, key: "",
                problem: "is not valid TOML (\(error.description), line \(error.source.begin.line))",
                fix: "correct the syntax at that line")
        } catch {
            throw ConfigurationError(file: file, key: "", problem: "is not valid TOML", fix: "correct the syntax")
        }
        let reader = TableReader(root: root, file: file)
        var c = DaemonConfiguration.defaults
        try reader.checkSections([
            "paths", "ingest", "retention", "job", "limits", "metrics", "dicom", "retrain", "ledger", "log"
        ])

        try reader.section("paths", keys: ["watch", "work", "output", "quarantine", "archive", "spool"])
        c.paths.watch = try reader.path("paths", "watch", default: c.paths.watch)
        c.paths.work = try reader.path("paths", "work", default: c.paths.work)
        c.paths.output = try reader.path("paths", "output", default: c.paths.output)
        c.paths.quarantine = try reader.path("paths", "quarantine", default: c.paths.quarantine)
        c.paths.archive = try reader.path("paths", "archive", default: c.paths.work + "/archive")
        c.paths.spool = try reader.path("paths", "spool", default: c.paths.work + "/spool")

        try reader.section(
            "ingest",
            keys: [
                "quiet_seconds", "marker_file", "rescan_seconds", "disk_watermark_mb", "missing_slices",
                "nonuniform_spacing", "gantry_tilt", "damaged_files", "minimum_slices"
            ])
        c.ingest.quietSeconds = try reader.number(
            "ingest", "quiet_seconds", default: c.ingest.quietSeconds, in: 0.1...86_400,
            fix: "set the seconds of silence after which a folder is complete, e.g. quiet_seconds = 10")
        c.ingest.markerFile = try reader.string("ingest", "marker_file", default: c.ingest.markerFile)
        if c.ingest.markerFile.contains("/") || c.ingest.markerFile.hasPrefix(".") {
            throw reader.error(
                "ingest.marker_file", "must be a plain file name, not a path or a hidden name",
                "use a name such as marker_file = \"lcovnet.complete\", or \"\" to turn markers off")
        }
        c.ingest.rescanSeconds = try reader.number(
            "ingest", "rescan_seconds", default: c.ingest.rescanSeconds, in: 1...86_400,
            fix: "set how often the whole watch folder is rescanned, e.g. rescan_seconds = 30")
        c.ingest.diskWatermarkMB = try reader.integer(
            "ingest", "disk_watermark_mb", default: c.ingest.diskWatermarkMB, in: 0...100_000_000,
            fix: "set the free space (MB) under which intake pauses, e.g. disk_watermark_mb = 1024")
        func choice(_ key: String, _ fallback: String) throws(ConfigurationError) -> String {
            let value = try reader.string("ingest", key, default: fallback)
            guard value == "reject" || value == "repair" else {
                throw reader.error("ingest.\(key)", "is \"\(value)\"", "use \"reject\" or \"repair\"")
            }
            return value
        }
        c.ingest.missingSlices = try choice("missing_slices", c.ingest.missingSlices)
        c.ingest.nonUniformSpacing = try choice("nonuniform_spacing", c.ingest.nonUniformSpacing)
        c.ingest.gantryTilt = try choice("gantry_tilt", c.ingest.gantryTilt)
        c.ingest.damagedFiles = try choice("damaged_files", c.ingest.damagedFiles)
        c.ingest.minimumSlices = try reader.integer(
            "ingest", "minimum_slices", default: c.ingest.minimumSlices, in: 1...10_000,
            fix: "set the fewest slices a series needs, e.g. minimum_slices = 1")

        try reader.section("retention", keys: ["after_success", "replaced_days"])
        let retention = try reader.string("retention", "after_success", default: c.retention.rawValue)
        guard let mode = DaemonConfiguration.Retention(rawValue: retention) else {
            throw reader.error(
                "retention.after_success", "is \"\(retention)\"", "use one of \"keep\", \"archive\" or \"delete\"")
        }
        c.retention = mode
        c.keepReplacedDays = try reader.number(
            "retention", "replaced_days", default: c.keepReplacedDays, in: 0...36_500,
            fix: "set how many days superseded results are kept, e.g. replaced_days = 30 (0 deletes them at once)")

        try reader.section("job", keys: ["kind", "model", "precision", "threads", "rtstruct"])
        let kind = try reader.string("job", "kind", default: c.job.kind.rawValue)
        guard let jobKind = DaemonConfiguration.Job.Kind(rawValue: kind) else {
            throw reader.error(
                "job.kind", "is \"\(kind)\"",
                "use \"segment\" (the organ segmentation) or \"convert\" (NIfTI only, no model)")
        }
        c.job.kind = jobKind
        c.job.model = try reader.string("job", "model", default: c.job.model)
        if !c.job.model.isEmpty && !c.job.model.hasPrefix("/") {
            throw reader.error(
                "job.model", "must be an absolute folder path, not \"\(c.job.model)\"",
                "write it from the root, e.g. model = \"/usr/local/share/lcovnet/models/default\", or \"\" for the default"
            )
        }
        c.job.precision = try reader.string("job", "precision", default: c.job.precision)
        guard ["", "int8", "fp32"].contains(c.job.precision) else {
            throw reader.error(
                "job.precision", "is \"\(c.job.precision)\"", "use \"int8\", \"fp32\" or \"\" (the model's own)")
        }
        c.job.threads = try reader.integer(
            "job", "threads", default: c.job.threads, in: 0...1024,
            fix: "set the threads per job, e.g. threads = 2, or 0 for every core")
        c.job.rtstruct = try reader.bool("job", "rtstruct", default: c.job.rtstruct)

        try reader.section(
            "limits",
            keys: ["memory_budget_mb", "concurrency", "max_attempts", "retry_seconds", "drain_seconds", "job_seconds"])
        c.limits.memoryBudgetMB = try reader.integer(
            "limits", "memory_budget_mb", default: c.limits.memoryBudgetMB, in: 256...1_048_576,
            fix: "set the memory the jobs may use together in MB, e.g. memory_budget_mb = 4096")
        c.limits.concurrency = try reader.integer(
            "limits", "concurrency", default: c.limits.concurrency, in: 1...64,
            fix: "set how many jobs may be in flight at once, e.g. concurrency = 3")
        c.limits.maxAttempts = try reader.integer(
            "limits", "max_attempts", default: c.limits.maxAttempts, in: 1...100,
            fix: "set the attempts per job before it fails, e.g. max_attempts = 3")
        c.limits.retrySeconds = try reader.number(
            "limits", "retry_seconds", default: c.limits.retrySeconds, in: 0.1...86_400,
            fix: "set the first retry delay in seconds, e.g. retry_seconds = 5")
        c.limits.drainSeconds = try reader.number(
            "limits", "drain_seconds", default: c.limits.drainSeconds, in: 0...3_600,
            fix: "set how long SIGTERM waits for running jobs, e.g. drain_seconds = 60")
        c.limits.jobSeconds = try reader.number(
            "limits", "job_seconds", default: c.limits.jobSeconds, in: 1...86_400,
            fix: "set how long one series may compute before it is stopped, e.g. job_seconds = 1800")

        try reader.section("metrics", keys: ["address", "port"])
        c.metrics.address = try reader.string("metrics", "address", default: c.metrics.address)
        guard c.metrics.address == "127.0.0.1" || c.metrics.address == "::1" || c.metrics.address == "localhost" else {
            throw reader.error(
                "metrics.address", "is \"\(c.metrics.address)\", which is not a loopback address",
                "use address = \"127.0.0.1\" (put a reverse proxy in front to publish the metrics)")
        }
        c.metrics.port = try reader.integer(
            "metrics", "port", default: c.metrics.port, in: 0...65_535,
            fix: "set a TCP port such as port = 9464, or port = 0 to turn the endpoint off")

        try readDicom(&c, reader)
        try readRetrain(&c, reader)

        try reader.section("ledger", keys: ["url", "worker", "lease_seconds"])
        c.ledgerURL = try reader.string("ledger", "url", default: c.ledgerURL)
        c.ledgerWorker = try reader.string("ledger", "worker", default: c.ledgerWorker)
        guard !c.ledgerWorker.isEmpty, c.ledgerWorker.utf8.count <= 128,
            c.ledgerWorker.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 })
        else {
            throw reader.error(
                "ledger.worker", "must be 1 to 128 printable ASCII characters without spaces",
                "name the worker as its host is known, e.g. worker = \"seg-node-2\"")
        }
        c.leaseSeconds = try reader.number(
            "ledger", "lease_seconds", default: c.leaseSeconds, in: 3...3600,
            fix: "set a lease of 3 to 3600 seconds, e.g. lease_seconds = 30")
        guard c.ledgerURL.isEmpty || c.ledgerURL.hasPrefix("postgresql://") || c.ledgerURL.hasPrefix("postgres://")
        else {
            throw reader.error(
                "ledger.url", "is not a PostgreSQL URL",
                "use url = \"postgresql://lcovnet@db.example:5432/lcovnet\" (password in ~/.pgpass or PGPASSWORD), or leave it out for SQLite"
            )
        }

        try reader.section("log", keys: ["level"])
        let level = try reader.string("log", "level", default: c.logLevel.rawValue)
        guard let parsed = Logger.Level(rawValue: level) else {
            throw reader.error(
                "log.level", "is \"\(level)\"",
                "use one of " + Logger.Level.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
        }
        c.logLevel = parsed

        try checkPathsApart(c, reader: reader)
        return c
    }

    private static func readDicom(_ c: inout DaemonConfiguration, _ reader: TableReader) throws(ConfigurationError) {
        try reader.section(
            "dicom",
            keys: [
                "ae_title", "address", "port", "accepted_calling_ae_titles", "max_pdu", "acse_timeout_seconds",
                "dimse_timeout_seconds", "intake_folder", "destinations", "tls_certificate", "tls_private_key",
                "tls_trusted_certificates"
            ])
        var d = c.dicom
        func checkAETitle(_ title: String, _ key: String) throws(ConfigurationError) {
            // PS3.5 AE: up to 16 characters of the default repertoire, no backslash or control characters, not all spaces.
            guard (1...16).contains(title.count),
                title.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) && $0 != "\\" }),
                title.contains(where: { $0 != " " })
            else {
                throw reader.error(
                    key, "is \"\(title)\", not an AE title",
                    "use 1-16 printable ASCII characters without backslash, e.g. \"LCOVNET\"")
            }
        }
        d.aeTitle = try reader.string("dicom", "ae_title", default: d.aeTitle)
        try checkAETitle(d.aeTitle, "dicom.ae_title")
        d.address = try reader.string("dicom", "address", default: d.address)
        guard !d.address.isEmpty, d.address.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) else {
            throw reader.error(
                "dicom.address", "is \"\(d.address)\", not an IP address",
                "use address = \"127.0.0.1\" (loopback), an interface's address, or \"0.0.0.0\" for every interface")
        }
        d.port = try reader.integer(
            "dicom", "port", default: d.port, in: 0...65_535,
            fix: "set the DICOM port, e.g. port = 11112, or port = 0 to turn the storage SCP off")
        d.acceptedCallingAETitles = try reader.strings(
            "dicom", "accepted_calling_ae_titles", default: d.acceptedCallingAETitles)
        for title in d.acceptedCallingAETitles { try checkAETitle(title, "dicom.accepted_calling_ae_titles") }
        d.maxPDU = try reader.integer(
            "dicom", "max_pdu", default: d.maxPDU, in: 4_096...131_072,
            fix: "set the largest PDU received, e.g. max_pdu = 65536")
        d.acseTimeoutSeconds = try reader.integer(
            "dicom", "acse_timeout_seconds", default: d.acseTimeoutSeconds, in: 1...3_600,
            fix: "set the association timeout, e.g. acse_timeout_seconds = 30")
        d.dimseTimeoutSeconds = try reader.integer(
            "dicom", "dimse_timeout_seconds", default: d.dimseTimeoutSeconds, in: 1...3_600,
            fix: "set the message timeout, e.g. dimse_timeout_seconds = 60")
        d.intakeFolder = try reader.string("dicom", "intake_folder", default: d.intakeFolder)
        guard !d.intakeFolder.isEmpty, !d.intakeFolder.contains("/"), !d.intakeFolder.hasPrefix(".") else {
            throw reader.error(
                "dicom.intake_folder", "must be a plain folder name inside the watch folder",
                "use a name such as intake_folder = \"dicom-network\"")
        }
        d.tlsCertificate = try reader.string("dicom", "tls_certificate", default: d.tlsCertificate)
        d.tlsPrivateKey = try reader.string("dicom", "tls_private_key", default: d.tlsPrivateKey)
        d.tlsTrustedCertificates = try reader.string(
            "dicom", "tls_trusted_certificates", default: d.tlsTrustedCertificates)
        for (key, path) in [
            ("tls_certificate", d.tlsCertificate), ("tls_private_key", d.tlsPrivateKey),
            ("tls_trusted_certificates", d.tlsTrustedCertificates)
        ]
        where !path.isEmpty && !path.hasPrefix("/") {
            throw reader.error(
                "dicom.\(key)", "must be an absolute file path, not \"\(path)\"",
                "give the PEM file from the root, or \"\" for none")
        }
        if d.tlsCertificate.isEmpty != d.tlsPrivateKey.isEmpty {
            throw reader.error(
                d.tlsCertificate.isEmpty ? "dicom.tls_certificate" : "dicom.tls_private_key",
                "is missing while its partner is set",
                "give both tls_certificate and tls_private_key (PEM), or neither")
        }
        d.destinations = try readDestinations(reader, checkAETitle: checkAETitle)
        if let plain = d.destinations.first(where: { $0.tls }), d.tlsCertificate.isEmpty {
            throw reader.error(
                "dicom.destinations", "\(plain.name) asks for TLS but [dicom] has no tls_certificate",
                "set tls_certificate and tls_private_key in [dicom], or tls = false for that destination")
        }
        c.dicom = d
    }

    /// [[dicom.destinations]]: ae_title, host, port and send ("seg", "rtstruct" or "both") each.
    private static func readDestinations(
        _ reader: TableReader,
        checkAETitle: (String, String) throws(ConfigurationError) -> Void
    ) throws(ConfigurationError)
        -> [DaemonConfiguration.Destination]
    {
        guard let value = reader.root["dicom"]?.table?["destinations"] else { return [] }
        let example =
            "[[dicom.destinations]] with ae_title = \"PACS\", host = \"10.0.0.5\", port = 104, send = \"both\""
        guard let array = value.array else {
            throw reader.error("dicom.destinations", "must be a list of tables", "write each as \(example)")
        }
        var out: [DaemonConfiguration.Destination] = []
        for (n, item) in array.enumerated() {
            let key = "dicom.destinations[\(n + 1)]"
            guard let table = item.table else { throw reader.error(key, "must be a table", "write each as \(example)") }
            for k in table.keys where !["ae_title", "host", "port", "send", "tls"].contains(k) {
                throw reader.error("\(key).\(k)", "is not a known key", "use only ae_title, host, port, send and tls")
            }
            guard let title = table["ae_title"]?.string, let host = table["host"]?.string, !host.isEmpty,
                let port = table["port"]?.int
            else {
                throw reader.error(key, "needs ae_title, host and port", "write it as \(example)")
            }
            try checkAETitle(title, "\(key).ae_title")
            guard (1...65_535).contains(port) else {
                throw reader.error(
                    "\(key).port", "is \(port), outside 1...65535", "give the peer's DICOM port, e.g. port = 104")
            }
            let sendText = table["send"]?.string ?? "both"
            guard let send = DaemonConfiguration.Destination.Objects(rawValue: sendText) else {
                throw reader.error("\(key).send", "is \"\(sendText)\"", "use \"seg\", \"rtstruct\" or \"both\"")
            }
            var tls = false
            if let value = table["tls"] {
                guard let flag = value.bool else {
                    throw reader.error("\(key).tls", "must be true or false", "write tls = true or tls = false")
                }
                tls = flag
            }
            out.append(.init(aeTitle: title, host: host, port: port, send: send, tls: tls))
        }
        return out
    }

    private static func readRetrain(_ c: inout DaemonConfiguration, _ reader: TableReader) throws(ConfigurationError) {
        try reader.section(
            "retrain",
            keys: [
                "cache", "cache_mb", "patches_per_series", "patch_window", "teacher", "corrections", "steps",
                "batch", "learning_rate", "validation_percent", "promote_margin", "minimum_series", "threads",
                "calibration_windows", "rehearsal", "rehearsal_phantoms", "rehearsal_dataset", "rehearsal_label_map",
                "anchor_phantoms", "anchor_tolerance",
                "minimum_validation_series", "phantom_matrix"
            ])
        var r = c.retrain
        r.cache = try reader.bool("retrain", "cache", default: r.cache)
        r.cacheMB = try reader.integer(
            "retrain", "cache_mb", default: r.cacheMB, in: 16...10_000_000,
            fix: "set the cache's size bound in MB, e.g. cache_mb = 4096")
        r.patchesPerSeries = try reader.integer(
            "retrain", "patches_per_series", default: r.patchesPerSeries, in: 1...64,
            fix: "set how many patches each series gives the cache, e.g. patches_per_series = 4")
        r.patchWindow = try reader.integers("retrain", "patch_window", default: r.patchWindow)
        guard r.patchWindow.count == 3, r.patchWindow.allSatisfy({ $0 >= 32 && $0 % 16 == 0 && $0 <= 512 }) else {
            throw reader.error(
                "retrain.patch_window", "is \(r.patchWindow)",
                "give [D, H, W], each a multiple of 16 from 32 to 512, e.g. patch_window = [32, 64, 64]")
        }
        r.teacher = try reader.string("retrain", "teacher", default: r.teacher)
        if !r.teacher.isEmpty && r.teacher != "none" && !r.teacher.hasPrefix("/") {
            throw reader.error(
                "retrain.teacher",
                "must be an absolute file path, \"none\" or \"\" (the installed teacher), not \"\(r.teacher)\"",
                "give the teacher's state dict from the root, e.g. teacher = \"/var/lib/lcovnet/teacher/checkpoint.safetensors\""
            )
        }
        r.corrections = try reader.string("retrain", "corrections", default: r.corrections)
        if !r.corrections.isEmpty && !r.corrections.hasPrefix("/") {
            throw reader.error(
                "retrain.corrections", "must be an absolute folder path, not \"\(r.corrections)\"",
                "write it from the root, or \"\" for <work>/corrections")
        }
        r.steps = try reader.integer(
            "retrain", "steps", default: r.steps, in: 1...1_000_000,
            fix: "set the fine-tuning steps per round, e.g. steps = 200")
        r.batch = try reader.integer(
            "retrain", "batch", default: r.batch, in: 1...64, fix: "set the patches per step, e.g. batch = 2")
        r.learningRate = try reader.number(
            "retrain", "learning_rate", default: r.learningRate, in: 1e-7...1,
            fix: "set the peak learning rate of the round, e.g. learning_rate = 2e-4")
        r.validationPercent = try reader.integer(
            "retrain", "validation_percent", default: r.validationPercent, in: 1...90,
            fix: "set the share of series held out for validation, e.g. validation_percent = 20")
        r.promoteMargin = try reader.number(
            "retrain", "promote_margin", default: r.promoteMargin, in: 0...1,
            fix: "set the mean-Dice gain needed to promote, e.g. promote_margin = 0.01 (one point)")
        r.minimumSeries = try reader.integer(
            "retrain", "minimum_series", default: r.minimumSeries, in: 2...1_000_000,
            fix: "set how many cached series a round needs, e.g. minimum_series = 4")
        r.threads = try reader.integer(
            "retrain", "threads", default: r.threads, in: 0...1024,
            fix: "set the round's threads, e.g. threads = 1, or 0 for every core")
        r.calibrationWindows = try reader.integer(
            "retrain", "calibration_windows", default: r.calibrationWindows, in: 1...64,
            fix: "set how many cached inputs calibrate the candidate's int8 scales, e.g. calibration_windows = 4")
        r.rehearsal = try reader.number(
            "retrain", "rehearsal", default: r.rehearsal, in: 0...0.95,
            fix: "set the share of steps on synthetic phantoms, e.g. rehearsal = 0.5, or 0 for none")
        r.rehearsalPhantoms = try reader.integer(
            "retrain", "rehearsal_phantoms", default: r.rehearsalPhantoms, in: 1...64,
            fix: "set how many phantoms rehearsal draws from, e.g. rehearsal_phantoms = 4")
        r.rehearsalDataset = try reader.string("retrain", "rehearsal_dataset", default: r.rehearsalDataset)
        r.rehearsalLabelMap = try reader.string("retrain", "rehearsal_label_map", default: r.rehearsalLabelMap)
        r.anchorPhantoms = try reader.integer(
            "retrain", "anchor_phantoms", default: r.anchorPhantoms, in: 0...64,
            fix: "set how many whole phantoms guard promotion, e.g. anchor_phantoms = 2, or 0 for none")
        r.anchorTolerance = try reader.number(
            "retrain", "anchor_tolerance", default: r.anchorTolerance, in: 0...1,
            fix: "set the anchor Dice a candidate may lose, e.g. anchor_tolerance = 0.01")
        r.minimumValidationSeries = try reader.integer(
            "retrain", "minimum_validation_series", default: r.minimumValidationSeries,
            in: 1...1_000_000, fix: "set how many validation series a round needs, e.g. minimum_validation_series = 2")
        r.phantomMatrix = try reader.integer(
            "retrain", "phantom_matrix", default: r.phantomMatrix, in: 32...512,
            fix: "set the rehearsal and anchor phantoms' matrix, e.g. phantom_matrix = 256 (as in training)")
        c.retrain = r
    }

    /// The folders must be distinct and none may hold another: a results folder inside the watch
    /// folder would be ingested again. Compared as resolved paths (`resolvedPath`), so that a
    /// double slash, a `..` or a symbolic link cannot hide an overlap.
    private static func checkPathsApart(_ c: DaemonConfiguration, reader: TableReader) throws(ConfigurationError) {
        let named = [
            ("paths.watch", c.paths.watch), ("paths.work", c.paths.work), ("paths.output", c.paths.output),
            ("paths.quarantine", c.paths.quarantine), ("paths.archive", c.paths.archive),
            ("paths.spool", c.spoolPath)
        ]
        let resolved = named.map { resolvedPath($0.1) }
        for (i, a) in named.enumerated() {
            for (n, b) in named.enumerated() where n > i {
                let (x, y) = (
                    resolved[i] == "/" ? "/" : resolved[i] + "/", resolved[n] == "/" ? "/" : resolved[n] + "/"
                )
                if x == y || x.hasPrefix(y) || y.hasPrefix(x) {
                    // The default archive and spool inside work are fine: work is not watched.
                    if a.0 == "paths.work" && ["paths.archive", "paths.spool"].contains(b.0) && y.hasPrefix(x) && x != y
                    {
                        continue
                    }
                    let shown =
                        resolved[n] == b.1 && resolved[i] == a.1 ? "" : " (resolved: \(resolved[n]) and \(resolved[i]))"
                    throw reader.error(
                        b.0, "overlaps \(a.0) (\(a.1))\(shown)",
                        "give each of watch, work, output, quarantine and archive its own folder")
                }
            }
        }
    }

    /// An absolute path with `//`, `.` and `..` removed and symbolic links resolved as far as the
    /// path exists (the part not created yet is appended as written).
    public static func resolvedPath(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        // The longest prefix that exists, resolved by the kernel; the rest as written.
        for count in stride(from: parts.count, through: 0, by: -1) {
            let prefix = "/" + parts[..<count].joined(separator: "/")
            guard let real = realpath(prefix, nil) else { continue }
            defer { free(real) }
            let base = String(cString: real)
            let rest = parts[count...].joined(separator: "/")
            if rest.isEmpty { return base }
            return (base == "/" ? "" : base) + "/" + rest
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// Typed access to the TOML tables, remembering the file for errors.
struct TableReader {
    var root: TOMLTable
    var file: String

    func error(_ key: String, _ problem: String, _ fix: String) -> ConfigurationError {
        ConfigurationError(file: file, key: key, problem: problem, fix: fix)
    }

    func checkSections(_ known: [String]) throws(ConfigurationError) {
        for key in root.keys where !known.contains(key) {
            throw error(key, "is not a known section", "use only " + known.map { "[\($0)]" }.joined(separator: ", "))
        }
        for key in root.keys where root[key]?.table == nil {
            throw error(key, "must be a section", "write it as [\(key)] followed by its keys")
        }
    }

    func section(_ name: String, keys: [String]) throws(ConfigurationError) {
        guard let table = root[name]?.table else { return }
        for key in table.keys where !keys.contains(key) {
            throw error(
                "\(name).\(key)", "is not a known key",
                "use only " + keys.joined(separator: ", ") + " in [\(name)] (see etc/lcovnet/lcovnet.toml)")
        }
    }

    private func value(_ section: String, _ key: String) -> TOMLValueConvertible? {
        root[section]?.table?[key]
    }

    func string(_ section: String, _ key: String, default fallback: String) throws(ConfigurationError) -> String {
        guard let v = value(section, key) else { return fallback }
        guard let s = v.string else {
            throw error("\(section).\(key)", "must be a string", "quote the value: \(key) = \"...\"")
        }
        return s
    }

    func bool(_ section: String, _ key: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        guard let v = value(section, key) else { return fallback }
        guard let b = v.bool else {
            throw error("\(section).\(key)", "must be true or false", "write \(key) = true or \(key) = false")
        }
        return b
    }

    func integers(_ section: String, _ key: String, default fallback: [Int]) throws(ConfigurationError) -> [Int] {
        guard let v = value(section, key) else { return fallback }
        guard let array = v.array else {
            throw error("\(section).\(key)", "must be a list of whole numbers", "write e.g. \(key) = \(fallback)")
        }
        var out: [Int] = []
        for item in array {
            guard let i = item.int else {
                throw error("\(section).\(key)", "must be a list of whole numbers", "write e.g. \(key) = \(fallback)")
            }
            out.append(i)
        }
        return out
    }

    func strings(_ section: String, _ key: String, default fallback: [String]) throws(ConfigurationError) -> [String] {
        guard let v = value(section, key) else { return fallback }
        guard let array = v.array else {
            throw error("\(section).\(key)", "must be a list of strings", "write e.g. \(key) = [\"CT1\", \"PACS\"]")
        }
        var out: [String] = []
        for item in array {
            guard let s = item.string else {
                throw error("\(section).\(key)", "must be a list of strings", "write e.g. \(key) = [\"CT1\", \"PACS\"]")
            }
            out.append(s)
        }
        return out
    }

    func path(_ section: String, _ key: String, default fallback: String) throws(ConfigurationError) -> String {
        let s = try string(section, key, default: fallback)
        guard s.hasPrefix("/"), s.count > 1 else {
            throw error(
                "\(section).\(key)", "must be an absolute folder path, not \"\(s)\"",
                "write it from the root, e.g. \(key) = \"\(fallback)\"")
        }
        return s.hasSuffix("/") ? String(s.dropLast()) : s
    }

    func number(_ section: String, _ key: String, default fallback: Double, in range: ClosedRange<Double>, fix: String)
        throws(ConfigurationError) -> Double
    {
        guard let v = value(section, key) else { return fallback }
        guard let d = v.double ?? v.int.map(Double.init) else {
            throw error("\(section).\(key)", "must be a number", fix)
        }
        guard range.contains(d) else {
            throw error("\(section).\(key)", "is \(d), outside \(range.lowerBound)...\(range.upperBound)", fix)
        }
        return d
    }

    func integer(_ section: String, _ key: String, default fallback: Int, in range: ClosedRange<Int>, fix: String)
        throws(ConfigurationError) -> Int
    {
        guard let v = value(section, key) else { return fallback }
        guard let i = v.int else { throw error("\(section).\(key)", "must be a whole number", fix) }
        guard range.contains(i) else {
            throw error("\(section).\(key)", "is \(i), outside \(range.lowerBound)...\(range.upperBound)", fix)
        }
        return i
    }
}
