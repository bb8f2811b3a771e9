import Daemon
import Foundation
import Retraining

extension StatusReport {
    /// The retraining side of `lcovnet status`: the served version, the cache, the last round.
    struct Retraining: Encodable {
        var current_model: String?
        var cached_series: Int?
        var cache_bytes: Int64?
        var cache_bound_bytes: Int64
        var last_round: RoundStatus?

        init(_ c: DaemonConfiguration) {
            current_model = (try? ModelStore(path: c.modelsPath))?.current()
            cache_bound_bytes = Int64(c.retrain.cacheMB) << 20
            if FileManager.default.fileExists(atPath: "\(c.cachePath)/manifest.json"),
                let manifest = try? DistillationCache(path: c.cachePath, boundBytes: cache_bound_bytes).manifest()
            {
                cached_series = manifest.series.count
                cache_bytes = manifest.bytes
            }
            last_round = RoundStatus.read("\(c.retrainPath)/status.json")
        }

        var text: String {
            var out = "retraining: model \(current_model ?? "(none promoted; the configured model)")"
            if let n = cached_series, let b = cache_bytes {
                out += String(
                    format: ", cache %d series, %.1f of %.0f MB", n, Double(b) / 1_048_576,
                    Double(cache_bound_bytes) / 1_048_576)
            }
            out += "\n"
            if let r = last_round {
                var line = "  last round \(r.round): \(r.phase)"
                if let s = r.step, let n = r.steps, r.decision == nil { line += " (step \(s)/\(n))" }
                if let d = r.decision { line += ", \(d)" }
                if let reason = r.reason { line += ": \(reason)" }
                out += line + "\n"
            }
            return out
        }
    }
}
