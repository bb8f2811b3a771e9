import Daemon
import Foundation
import TestSupport
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
        let c = try ConfigurationLoader.parse(
            """
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
            replaced_days = 7.5
            [limits]
            memory_budget_mb = 8192
            concurrency = 2
            [metrics]
            port = 0
            [job]
            rtstruct = false
            [dicom]
            ae_title = "SEG AI"
            address = "0.0.0.0"
            port = 11112
            accepted_calling_ae_titles = ["CT1", "PACS"]
            [[dicom.destinations]]
            ae_title = "PACS"
            host = "10.0.0.5"
            port = 104
            [[dicom.destinations]]
            ae_title = "TPS"
            host = "tps.local"
            port = 11112
            send = "rtstruct"
            [retrain]
            cache = false
            cache_mb = 512
            patch_window = [32, 96, 96]
            teacher = "/srv/teacher.safetensors"
            steps = 50
            promote_margin = 0.02
            rehearsal = 0.25
            rehearsal_phantoms = 6
            anchor_phantoms = 0
            anchor_tolerance = 0.005
            minimum_validation_series = 3
            [log]
            level = "debug"
            """)
        #expect(!c.retrain.cache && c.retrain.cacheMB == 512 && c.retrain.patchWindow == [32, 96, 96])
        #expect(
            c.retrain.teacher == "/srv/teacher.safetensors" && c.retrain.steps == 50 && c.retrain.promoteMargin == 0.02)
        #expect(c.retrain.rehearsal == 0.25 && c.retrain.rehearsalPhantoms == 6 && c.retrain.anchorPhantoms == 0)
        #expect(c.retrain.anchorTolerance == 0.005 && c.retrain.minimumValidationSeries == 3)
        #expect(c.correctionsPath == "/srv/work/corrections" && c.modelsPath == "/srv/work/models")
        #expect(c.paths.watch == "/srv/in")
        #expect(c.paths.archive == "/srv/work/archive")
        #expect(c.ingest.quietSeconds == 2.5)
        #expect(c.ingest.markerFile == "")
        #expect(c.ingest.rescanSeconds == 5)
        #expect(c.ingest.diskWatermarkMB == 0)
        #expect(c.retention == .delete && c.keepReplacedDays == 7.5)
        #expect(c.limits.memoryBudgetMB == 8192 && c.limits.concurrency == 2)
        #expect(c.metrics.port == 0)
        #expect(!c.job.rtstruct && DaemonConfiguration.defaults.job.rtstruct)
        #expect(c.dicom.aeTitle == "SEG AI" && c.dicom.address == "0.0.0.0" && c.dicom.port == 11112)
        #expect(
            c.dicom.destinations.map { "\($0.name) \($0.send.files)" }
                == [
                    "PACS@10.0.0.5:104 [\"segmentation.dcm\", \"rtstruct.dcm\"]",
                    "TPS@tps.local:11112 [\"rtstruct.dcm\"]"
                ])
        #expect(c.dicom.acceptedCallingAETitles == ["CT1", "PACS"] && c.dicomIntakePath == "/srv/in/dicom-network")
        #expect(c.logLevel == .debug)
        #expect(c.ledgerURL.isEmpty)
        let shared = try ConfigurationLoader.parse("[ledger]\nurl = \"postgresql://w@db:5432/lcovnet\"")
        #expect(shared.ledgerURL == "postgresql://w@db:5432/lcovnet")
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
        ("[retention]\nreplaced_days = -1", "retention.replaced_days", "replaced_days = 30"),
        ("[limits]\nconcurrency = 0", "limits.concurrency", "concurrency = 3"),
        ("[limits]\nmemory_budget_mb = 1.5", "limits.memory_budget_mb", "whole number"),
        ("[metrics]\naddress = \"0.0.0.0\"", "metrics.address", "127.0.0.1"),
        ("[metrics]\nport = 70000", "metrics.port", "port = 9464"),
        ("[log]\nlevel = \"loud\"", "log.level", "\"info\""),
        ("[ledger]\nurl = \"mysql://db/x\"", "ledger.url", "postgresql://"),
        ("[ingest]\nmissing_slices = \"fill\"", "ingest.missing_slices", "\"repair\""),
        ("[dicom]\nae_title = \"A_TITLE_LONGER_THAN_16\"", "dicom.ae_title", "1-16 printable"),
        (
            "[dicom]\naccepted_calling_ae_titles = [\"OK\", \"BAD\\\\\"]", "dicom.accepted_calling_ae_titles",
            "without backslash"
        ),
        ("[dicom]\naddress = \"scanner.local\"", "dicom.address", "127.0.0.1"),
        ("[dicom]\nport = -1", "dicom.port", "port = 11112"),
        (
            "[[dicom.destinations]]\nae_title = \"P\"\nhost = \"h\"\nport = 104\nsend = \"all\"",
            "dicom.destinations[1].send", "\"both\""
        ),
        (
            "[[dicom.destinations]]\nae_title = \"P\"\nport = 104", "dicom.destinations[1]",
            "needs ae_title, host and port"
        ),
        ("[dicom]\ntls_certificate = \"/etc/cert.pem\"", "dicom.tls_private_key", "give both"),
        (
            "[dicom]\ntls_certificate = \"cert.pem\"\ntls_private_key = \"/k.pem\"", "dicom.tls_certificate",
            "from the root"
        ),
        (
            "[[dicom.destinations]]\nae_title = \"P\"\nhost = \"h\"\nport = 104\ntls = true", "dicom.destinations",
            "tls_certificate"
        ),
        ("[dicom]\nintake_folder = \"../elsewhere\"", "dicom.intake_folder", "dicom-network"),
        ("[job]\nkind = \"classify\"", "job.kind", "\"convert\""),
        ("[job]\nmodel = \"models/default\"", "job.model", "from the root"),
        ("[job]\nprecision = \"fp16\"", "job.precision", "\"int8\""),
        ("[job]\nrtstruct = \"no\"", "job.rtstruct", "rtstruct = false"),
        ("[retrain]\npatch_window = [30, 64, 64]", "retrain.patch_window", "multiple of 16"),
        ("[retrain]\npatch_window = 32", "retrain.patch_window", "list of whole numbers"),
        ("[retrain]\ncache = \"yes\"", "retrain.cache", "cache = true"),
        ("[retrain]\nteacher = \"teacher.safetensors\"", "retrain.teacher", "from the root"),
        ("[retrain]\npromote_margin = 2", "retrain.promote_margin", "promote_margin = 0.01"),
        ("[retrain]\nvalidation_percent = 0", "retrain.validation_percent", "validation_percent = 20"),
        ("[retrain]\nsteps = 0", "retrain.steps", "steps = 200"),
        ("[retrain]\nepochs = 3", "retrain.epochs", "calibration_windows"),
        ("[retrain]\nrehearsal = 1", "retrain.rehearsal", "rehearsal = 0.5"),
        ("[retrain]\nrehearsal_phantoms = 0", "retrain.rehearsal_phantoms", "rehearsal_phantoms = 4"),
        ("[spool]\nx = 1", "spool", "[paths]"),
        ("watch = \"/x\"", "watch", "[paths]"),
        ("[paths\nwatch = 1", "", "TOML")
    ])
    func badValuesNameTheKeyAndTheFix(text: String, key: String, fixFragment: String) {
        #expect {
            _ = try ConfigurationLoader.parse(text, file: "test.toml")
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.description.contains(fixFragment)
                && error.description.hasPrefix("test.toml")
        }
    }
}
