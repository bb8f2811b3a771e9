import Daemon
import Foundation
import Testing

@Suite struct ConfigurationTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("etc/lcovnet/lcovnet.toml").path

    @Test func shippedFileParsesToTheDocumentedDefaults() throws {
        let parsed = try ConfigurationLoader.load(file: Self.shipped)
        #expect(parsed == DaemonConfiguration.defaults)
    }

    @Test func anEmptyFileTakesTheDefaults() throws {
        var expected = DaemonConfiguration.defaults
        expected.paths.archive = expected.paths.work + "/archive"
        #expect(try ConfigurationLoader.parse("") == expected)
    }

    @Test func valuesAreRead() throws {
        let c = try ConfigurationLoader.parse("""
            [paths]
            watch = "/srv/in/"
            work = "/srv/work"
            output = "/srv/out"
            quarantine = "/srv/q"
            [ingest]
            quiet_seconds = 2.5
            marker_file = ""
            rescan_seconds = 5
            disk_watermark_mb = 0
            [retention]
            after_success = "delete"
            [limits]
            memory_budget_mb = 8192
            concurrency = 2
            [metrics]
            port = 0
            [log]
            level = "debug"
            """)
        #expect(c.paths.watch == "/srv/in")
        #expect(c.paths.archive == "/srv/work/archive")
        #expect(c.ingest.quietSeconds == 2.5)
        #expect(c.ingest.markerFile == "")
        #expect(c.ingest.rescanSeconds == 5)
        #expect(c.ingest.diskWatermarkMB == 0)
        #expect(c.retention == .delete)
        #expect(c.limits.memoryBudgetMB == 8192 && c.limits.concurrency == 2)
        #expect(c.metrics.port == 0)
        #expect(c.logLevel == .debug)
    }

    /// Each bad file is rejected with the key it concerns and a fix in the message.
    @Test(arguments: [
        ("[ingest]\nquiet_seconds = -1", "ingest.quiet_seconds", "quiet_seconds = 10"),
        ("[ingest]\nquiet_second = 3", "ingest.quiet_second", "quiet_seconds"),
        ("[ingest]\nquiet_seconds = \"ten\"", "ingest.quiet_seconds", "quiet_seconds = 10"),
        ("[ingest]\nmarker_file = \"a/b\"", "ingest.marker_file", "marker_file ="),
        ("[paths]\nwatch = \"incoming\"", "paths.watch", "from the root"),
        ("[paths]\nwatch = \"/srv/x\"\noutput = \"/srv/x/results\"", "paths.output", "its own folder"),
        ("[retention]\nafter_success = \"shred\"", "retention.after_success", "\"archive\""),
        ("[limits]\nconcurrency = 0", "limits.concurrency", "concurrency = 3"),
        ("[limits]\nmemory_budget_mb = 1.5", "limits.memory_budget_mb", "whole number"),
        ("[metrics]\naddress = \"0.0.0.0\"", "metrics.address", "127.0.0.1"),
        ("[metrics]\nport = 70000", "metrics.port", "port = 9464"),
        ("[log]\nlevel = \"loud\"", "log.level", "\"info\""),
        ("[job]\nkind = \"classify\"", "job.kind", "\"convert\""),
        ("[job]\nmodel = \"models/default\"", "job.model", "from the root"),
        ("[job]\nprecision = \"fp16\"", "job.precision", "\"int8\""),
        ("[spool]\nx = 1", "spool", "[paths]"),
        ("watch = \"/x\"", "watch", "[paths]"),
        ("[paths\nwatch = 1", "", "TOML"),
    ])
    func badValuesNameTheKeyAndTheFix(text: String, key: String, fixFragment: String) {
        #expect {
            _ = try ConfigurationLoader.parse(text, file: "test.toml")
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.description.contains(fixFragment) && error.description.hasPrefix("test.toml")
        }
    }
}
