import Foundation
import Prometheus

/// The daemon's Prometheus metrics (names documented in docs/DAEMON.md).
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    public let seriesDone: Counter
    public let seriesFailed: Counter
    public let seriesQuarantined: Counter
    public let retries: Counter
    public let queueDepth: Gauge
    public let running: Gauge
    public let intakePaused: Gauge
    public let pendingFolders: Gauge
    public let residentBytes: Gauge
    private let stageSeconds: [String: DurationHistogram]

    public static let stages = ["claim", "decode", "compute", "write", "process", "commit", "quarantine"]
    /// Jobs waiting in front of each pipeline stage, and inside it.
    private let stageQueued: [String: Gauge]
    private let stageBusy: [String: Gauge]
    public let reservedMemory: Gauge

    public init() {
        seriesDone = registry.makeCounter(
            descriptor: Self.metric("lcovnet_series_done_total", help: "Series whose results were committed."))
        seriesFailed = registry.makeCounter(
            descriptor: Self.metric("lcovnet_series_failed_total", help: "Series given up after max_attempts."))
        seriesQuarantined = registry.makeCounter(
            descriptor: Self.metric("lcovnet_series_quarantined_total", help: "Inputs moved to quarantine."))
        retries = registry.makeCounter(
            descriptor: Self.metric("lcovnet_job_retries_total", help: "Attempts deferred after a transient error."))
        queueDepth = registry.makeGauge(
            descriptor: Self.metric("lcovnet_queue_depth", help: "Claimed jobs waiting to run."))
        running = registry.makeGauge(descriptor: Self.metric("lcovnet_jobs_running", help: "Jobs running now."))
        intakePaused = registry.makeGauge(
            descriptor: Self.metric("lcovnet_intake_paused", help: "1 while free disk is below the watermark."))
        pendingFolders = registry.makeGauge(
            descriptor: Self.metric(
                "lcovnet_watch_pending_folders", help: "Watch folders holding files not yet claimed."))
        residentBytes = registry.makeGauge(
            descriptor: Self.metric("lcovnet_resident_memory_bytes", help: "Resident memory of the daemon."))
        let buckets: [Duration] = [
            .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1),
            .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900)
        ]
        var histograms: [String: DurationHistogram] = [:]
        for stage in Self.stages {
            let descriptor = MetricNameDescriptor(
                namespace: "lcovnet", metricName: "stage_duration", unitName: "seconds",
                helpText: "Time spent in each stage of a job.")
            histograms[stage] = registry.makeDurationHistogram(
                descriptor: descriptor, labels: [("stage", stage)], buckets: buckets)
        }
        stageSeconds = histograms
        var queued: [String: Gauge] = [:]
        var busy: [String: Gauge] = [:]
        for stage in ["decode", "compute", "write"] {
            queued[stage] = registry.makeGauge(
                descriptor: Self.metric(
                    "lcovnet_stage_queue_depth", help: "Jobs waiting in front of a pipeline stage."),
                labels: [("stage", stage)])
            busy[stage] = registry.makeGauge(
                descriptor: Self.metric("lcovnet_stage_busy", help: "Jobs inside a pipeline stage."),
                labels: [("stage", stage)])
        }
        stageQueued = queued
        stageBusy = busy
        reservedMemory = registry.makeGauge(
            descriptor: Self.metric(
                "lcovnet_reserved_memory_bytes",
                help: "Working sets reserved by the jobs in flight, plus the job's resident part (model)."))
    }

    /// A metric named in full (prometheus joins namespace, name and unit; the names here are whole).
    private static func metric(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    public func record(stage: String, queued: Int, busy: Int) {
        stageQueued[stage]?.set(to: Double(queued))
        stageBusy[stage]?.set(to: Double(busy))
    }

    public func record(stage: String, seconds: Double) {
        stageSeconds[stage]?.recordNanoseconds(Int64(seconds * 1e9))
    }

    public func sampleMemory() {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return }
        let fields = statm.split(separator: " ")
        if fields.count > 1, let pages = Int64(fields[1]) {
            residentBytes.set(to: Double(pages * Int64(sysconf(Int32(_SC_PAGESIZE)))))
        }
    }

    /// The text exposition format.
    public func exposition() -> [UInt8] {
        sampleMemory()
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
