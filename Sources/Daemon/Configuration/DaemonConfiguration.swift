import Foundation
import Logging

/// Everything `lcovnet serve` reads from lcovnet.toml (etc/lcovnet/lcovnet.toml documents each key).
public struct DaemonConfiguration: Sendable, Equatable {
    public struct Paths: Sendable, Equatable {
        /// Where PACS or storescp drop DICOM files (subfolders included).
        public var watch: String
        /// The spool (claimed series), the ledger and caches.
        public var work: String
        /// Results, one folder per series: `<output>/<SeriesInstanceUID>/`.
        public var output: String
        /// Inputs that cannot be processed, each with reason.json.
        public var quarantine: String
        /// Where inputs go after success when retention is `archive`.
        public var archive: String
        /// Claimed series, one folder per job; "" is `<work>/spool`. Workers sharing a ledger
        /// share it (a shared filesystem), so one can finish the jobs of another that died.
        public var spool = ""
    }

    public struct Ingest: Sendable, Equatable {
        /// A folder is complete when nothing in it has changed for this long.
        public var quietSeconds: Double
        /// A file of this name in a folder marks it complete at once ("" turns markers off).
        public var markerFile: String
        /// Full rescans of the watch folder, as a fallback to inotify.
        public var rescanSeconds: Double
        /// Intake pauses (files stay where they are) while free space under `work` is below this.
        public var diskWatermarkMB: Int
        /// What ingest does where a series is imperfect, "reject" or "repair" each (Ingest's
        /// IngestPolicy; DaemonJobs builds it from these): a gap in the slices, unequal slice
        /// spacing, gantry tilt, a damaged file among the series' files.
        public var missingSlices = "reject"
        public var nonUniformSpacing = "reject"
        public var gantryTilt = "repair"
        public var damagedFiles = "reject"
        /// Series with fewer slices are quarantined.
        public var minimumSlices = 1
    }

    /// What happens to a series' input files once its results are committed.
    public enum Retention: String, Sendable, Equatable, CaseIterable {
        case keep, archive, delete
    }

    public struct Limits: Sendable, Equatable {
        /// Memory the daemon's jobs may hold together, the model included; a job's share is
        /// estimated from its size.
        public var memoryBudgetMB: Int
        /// The most jobs in flight at once, across the pipeline's stages (decode, compute, write).
        public var concurrency: Int
        /// Attempts per job (transient errors and crashes) before it is marked failed.
        public var maxAttempts: Int
        /// First retry delay; each further retry doubles it.
        public var retrySeconds: Double
        /// How long SIGTERM waits for running jobs before checkpointing them.
        public var drainSeconds: Double
        /// Wall-clock seconds a job's compute child (and its write child) may run before it is
        /// killed; its CPU time is bounded at this many seconds per thread.
        public var jobSeconds: Double = 1800
    }

    public struct Metrics: Sendable, Equatable {
        /// Loopback address the Prometheus endpoint binds to.
        public var address: String
        /// 0 turns the endpoint off.
        public var port: Int
    }

    /// The storage SCP built into the daemon (DICOM over the network, beside the watch folder).
    public struct Dicom: Sendable, Equatable {
        /// The SCP's own AE title (called AE titles are not checked: peers often send their own guess).
        public var aeTitle: String
        /// Address the SCP listens on; loopback unless a site opens it.
        public var address: String
        /// 0 turns the SCP off.
        public var port: Int
        /// Calling AE titles let in; others are rejected at association. Empty: any.
        public var acceptedCallingAETitles: [String]
        public var maxPDU: Int
        /// Seconds an association may take to negotiate, and to wait for the next message.
        public var acseTimeoutSeconds: Int
        public var dimseTimeoutSeconds: Int
        /// Received instances go to `<watch>/<intake_folder>/<SeriesInstanceUID>/`, where the watch
        /// folder's rules (quiet period, grouping, quarantine) take them over.
        public var intakeFolder: String
        /// Where results are sent with C-STORE ([[dicom.destinations]]).
        public var destinations: [Destination] = []
        /// DICOM over TLS: this side's certificate and private key (PEM; "" = no TLS for the SCP)
        /// and the CA certificates a peer's must chain to ("" = peers are not verified).
        public var tlsCertificate = ""
        public var tlsPrivateKey = ""
        public var tlsTrustedCertificates = ""
    }

    /// A PACS or planning system that gets each result's DICOM objects.
    public struct Destination: Sendable, Equatable {
        public enum Objects: String, Sendable, Equatable, CaseIterable {
            case seg, rtstruct, both
            /// The result files sent (as the segment job names them).
            public var files: [String] {
                switch self {
                case .seg: ["segmentation.dcm"]
                case .rtstruct: ["rtstruct.dcm"]
                case .both: ["segmentation.dcm", "rtstruct.dcm"]
                }
            }
        }
        public var aeTitle: String
        public var host: String
        public var port: Int
        public var send: Objects
        /// Over TLS, with [dicom]'s certificate, key and trusted certificates.
        public var tls = false
        /// How the outbox and logs name it.
        public var name: String { "\(aeTitle)@\(host):\(port)" }
    }

    /// What each claimed series goes through.
    public struct Job: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable, CaseIterable {
            /// `lcovnet segment`: labels, statistics, preview and provenance.
            case segment
            /// Conversion only: the series as a NIfTI volume in HU (no model needed).
            case convert
        }
        public var kind: Kind
        /// The model folder; "" searches $LCOVNET_MODEL, then the installed default model.
        public var model: String
        /// "int8", "fp32", or "" for the model's own precision.
        public var precision: String
        /// Threads per job; 0 uses every core.
        public var threads: Int
        /// DICOM input also gets rtstruct.dcm (beside segmentation.dcm).
        public var rtstruct = true
    }

    /// The distillation cache and the retraining round (`lcovnet retrain`, docs/RETRAINING.md).
    public struct Retrain: Sendable, Equatable {
        /// Whether the daemon caches patches of each segmented series for retraining.
        public var cache: Bool
        /// Size bound of the cache; the oldest series are evicted beyond it.
        public var cacheMB: Int
        /// Patches kept per segmented series.
        public var patchesPerSeries: Int
        /// Patch size [D, H, W] on the prepared grid (multiples of 16, at least 32).
        public var patchWindow: [Int]
        /// The teacher's state dict (safetensors, from `lcovnet train --widths 48,96,192,384,384`);
        /// "" for $LCOVNET_TEACHER or the installed teacher (DaemonJobs.TeacherLocation), "none" for none.
        public var teacher: String
        /// Corrected label maps, `<SeriesInstanceUID>.nii.gz` (or .nii, .nii.zst) on the series' grid.
        public var corrections: String
        /// Fine-tuning steps per round.
        public var steps: Int
        public var batch: Int
        public var learningRate: Double
        /// Share of the series (by a hash of the SeriesInstanceUID) held out for validation, in percent.
        public var validationPercent: Int
        /// The new student is promoted only if its mean validation Dice beats the current one by this much.
        public var promoteMargin: Double
        /// Series a round needs (training and validation together) before it runs.
        public var minimumSeries: Int
        /// Threads of the round; 0 uses every core.
        public var threads: Int
        /// Cached training inputs the candidate's int8 calibration runs on.
        public var calibrationWindows: Int
        /// Share of fine-tuning steps spent on windows of synthetic phantoms with true labels.
        public var rehearsal = 0.5
        /// Phantoms (seeds 1…N, the default model's training seeds) rehearsal draws from.
        public var rehearsalPhantoms = 4
        /// A labelled dataset (train --dataset's layouts) rehearsal draws from instead of
        /// phantoms: its first rehearsalPhantoms training cases; empty for phantoms.
        public var rehearsalDataset = ""
        /// Its label map: btcv, amos, flare22, word or a JSON file; empty for its own names.
        public var rehearsalLabelMap = ""
        /// Whole phantoms (seeds 9001…) a candidate may not score worse on than the current
        /// model by more than anchorTolerance; 0 for no such floor.
        public var anchorPhantoms = 2
        public var anchorTolerance = 0.01
        /// In-plane matrix of the rehearsal and anchor phantoms (the training phantoms' is 256).
        public var phantomMatrix = 256
        /// Validation series a round needs before it may promote anything.
        public var minimumValidationSeries = 2
    }

    public var paths: Paths
    public var ingest: Ingest
    public var retention: Retention
    /// Days a superseded result (a series' earlier result, replaced when late files came) is
    /// kept under <work>/replaced before it is deleted; 0 deletes it at once.
    public var keepReplacedDays: Double
    public var job: Job
    public var limits: Limits
    public var metrics: Metrics
    public var dicom: Dicom
    public var retrain: Retrain
    public var logLevel: Logger.Level
    /// `[ledger] url`: the job ledger on PostgreSQL (`postgresql://user@host:port/database`),
    /// shared by the workers that name it; "" keeps it in SQLite under `work`.
    public var ledgerURL = ""
    /// Workers may share the ledger (PostgreSQL); the embedded one has one worker, the work
    /// folder's lock holder.
    public var sharesLedger: Bool { !ledgerURL.isEmpty }
    /// `[ledger] worker`: this worker's name among those sharing the ledger (default the host
    /// name); a worker restarted under the same name takes back its jobs at once.
    public var ledgerWorker = DaemonConfiguration.hostName
    /// `[ledger] lease_seconds`: a worker silent this long loses its jobs to the others.
    public var leaseSeconds = 30.0

    /// The host's name (gethostname), "localhost" when it has none.
    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0, buffer[0] != 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// Where the job ledger lives when it is SQLite.
    public var ledgerPath: String { "\(paths.work)/ledger.sqlite" }
    /// Claimed series, one folder per job.
    public var spoolPath: String { paths.spool.isEmpty ? "\(paths.work)/spool" : paths.spool }
    /// The distillation cache (patches, teacher targets, manifest).
    public var cachePath: String { "\(paths.work)/distillation" }
    /// Versioned student models and the `current` link the daemon serves.
    public var modelsPath: String { "\(paths.work)/models" }
    /// The retraining round's state: its lock and the last round's progress and decision.
    public var retrainPath: String { "\(paths.work)/retrain" }
    /// Where the storage SCP writes what it receives (inside the watch folder).
    public var dicomIntakePath: String { "\(paths.watch)/\(dicom.intakeFolder)" }
    /// Where corrected label maps are looked for.
    public var correctionsPath: String {
        retrain.corrections.isEmpty ? "\(paths.work)/corrections" : retrain.corrections
    }

    /// The defaults of etc/lcovnet/lcovnet.toml.
    public static let defaults = DaemonConfiguration(
        paths: Paths(
            watch: "/var/lib/lcovnet/incoming", work: "/var/lib/lcovnet/work",
            output: "/var/lib/lcovnet/results", quarantine: "/var/lib/lcovnet/quarantine",
            archive: "/var/lib/lcovnet/archive", spool: "/var/lib/lcovnet/work/spool"),
        ingest: Ingest(quietSeconds: 10, markerFile: "lcovnet.complete", rescanSeconds: 30, diskWatermarkMB: 1024),
        retention: .archive,
        keepReplacedDays: 30,
        job: Job(kind: .segment, model: "", precision: "", threads: 0),
        limits: Limits(memoryBudgetMB: 4096, concurrency: 3, maxAttempts: 3, retrySeconds: 5, drainSeconds: 60),
        metrics: Metrics(address: "127.0.0.1", port: 9464),
        dicom: Dicom(
            aeTitle: "LCOVNET", address: "127.0.0.1", port: 0, acceptedCallingAETitles: [], maxPDU: 65_536,
            acseTimeoutSeconds: 30, dimseTimeoutSeconds: 60, intakeFolder: "dicom-network"),
        retrain: Retrain(
            cache: true, cacheMB: 4096, patchesPerSeries: 4, patchWindow: [32, 64, 64], teacher: "", corrections: "",
            steps: 200, batch: 2, learningRate: 2e-4, validationPercent: 20, promoteMargin: 0.01, minimumSeries: 4,
            threads: 0, calibrationWindows: 4),
        logLevel: .info)

    /// Where `serve` and `status` look when no --config is given.
    public static let defaultPath = "/etc/lcovnet/lcovnet.toml"
}
