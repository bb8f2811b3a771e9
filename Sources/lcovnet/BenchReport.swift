import Foundation
import Inference

/// Results of one `lcovnet bench` run and their Markdown form.
struct BenchReport {
    struct Row: Codable {
        var name: String
        var threads: Int
        var seconds: [Double]
        /// Process CPU seconds per run, all threads (includes OpenMP spin-waiting).
        var cpuSeconds: [Double]
        var multiplyAdds: Int
        var memoryMiB: Int?
        var memoryIsPeakRSS = false
        var median: Double { seconds.sorted()[seconds.count / 2] }
        var cpuMedian: Double? { cpuSeconds.isEmpty ? nil : cpuSeconds.sorted()[cpuSeconds.count / 2] }
    }

    var shape: WindowShape
    var command: String
    var rows: [Row] = []
    var peaks: [Int: Double] = [:]
    var profiles: [String: [LCOVNetEngine.StepTiming]] = [:]
    var multiplyAdds = 0
    var notes: [String] = []
    var volumeRuns: [String] = []

    func markdown() -> String {
        var s = "## lcovnet bench, window \(shape) (\(date()))\n\n"
        s += "- Machine: \(machine())\n- Command: `\(command)`\n"
        s +=
            "- One window of \(String(format: "%.1f", Double(multiplyAdds) / 1e9)) G multiply-adds; median of the timed runs after one warm-up.\n"
        for (t, p) in peaks.sorted(by: { $0.key < $1.key }) {
            s +=
                "- Measured int8 peak (oneDNN 1×1×1 256→256 u8·s8 conv, cache-resident), \(t) thread(s): \(String(format: "%.0f", p / 1e9)) G multiply-adds/s\n"
        }
        for n in notes { s += "- \(n)\n" }
        s +=
            "- CPU s: process CPU time per window over all threads (steadier than wall time on a shared machine; includes OpenMP spin-waits).\n"
        s +=
            "\n| engine | threads | ms per window (median) | runs (ms) | G multiply-adds/s | CPU s per window | memory MiB |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            let runs = r.seconds.map { String(format: "%.0f", $0 * 1000) }.joined(separator: ", ")
            let memory = r.memoryMiB.map { "\($0)\(r.memoryIsPeakRSS ? " (peak RSS)" : " (arena)")" } ?? "-"
            let cpu = r.cpuMedian.map { String(format: "%.2f", $0) } ?? "-"
            s +=
                "| \(r.name) | \(r.threads) | \(String(format: "%.1f", r.median * 1000)) | \(runs) | \(String(format: "%.1f", Double(r.multiplyAdds) / r.median / 1e9)) | \(cpu) | \(memory) |\n"
        }
        for t in Set(rows.map(\.threads)).sorted() {
            guard let ours = rows.first(where: { $0.name == "lcovnet int8" && $0.threads == t }) else { continue }
            for peer in rows where peer.threads == t && !peer.name.hasPrefix("lcovnet") {
                s +=
                    "\nlcovnet int8 vs \(peer.name) at \(t) thread(s): \(String(format: "%.2f", peer.median / ours.median))× faster in wall time"
                if let a = ours.cpuMedian, let b = peer.cpuMedian {
                    s += String(format: ", %.2f× less CPU time", b / a)
                }
            }
        }
        s += "\n"
        if !volumeRuns.isEmpty { s += "\n" + volumeRuns.map { "- \($0)\n" }.joined() }
        for key in profiles.keys.sorted() {
            s += breakdown(key, profiles[key]!)
        }
        return s
    }

    /// Per-kind and top-step breakdown of one profiled window (each step waited for, so the total
    /// is slightly above the un-profiled latency).
    private func breakdown(_ key: String, _ steps: [LCOVNetEngine.StepTiming]) -> String {
        let parts = key.split(separator: "/")
        let threads = Int(parts[1]) ?? 1
        let total = steps.reduce(0) { $0 + $1.seconds }
        var s =
            "\n### Breakdown: lcovnet \(parts[0]), \(threads) thread(s), \(String(format: "%.1f", total * 1000)) ms profiled\n\n"
        s += "| kind | steps | ms | share | G multiply-adds/s | of int8 peak |\n|---|---|---|---|---|---|\n"
        var kinds: [String: (n: Int, seconds: Double, macs: Int)] = [:]
        for st in steps {
            let kind =
                st.kind == "convolution"
                ? (st.implementation.contains("ref") ? "convolution (reference impl.)" : "convolution") : st.kind
            kinds[kind, default: (0, 0, 0)].n += 1
            kinds[kind]!.seconds += st.seconds
            kinds[kind]!.macs += st.multiplyAdds
        }
        for (kind, v) in kinds.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            let rate = v.macs > 0 ? String(format: "%.1f", Double(v.macs) / v.seconds / 1e9) : "-"
            let ofPeak =
                v.macs > 0 && peaks[threads] != nil
                ? String(format: "%.0f %%", 100 * Double(v.macs) / v.seconds / peaks[threads]!) : "-"
            s +=
                "| \(kind) | \(v.n) | \(String(format: "%.1f", v.seconds * 1000)) | \(String(format: "%.0f %%", 100 * v.seconds / total)) | \(rate) | \(ofPeak) |\n"
        }
        s += "\nSlowest steps:\n\n| step | kind | implementation | ms | G multiply-adds/s |\n|---|---|---|---|---|\n"
        for st in steps.sorted(by: { $0.seconds > $1.seconds }).prefix(12) {
            let rate = st.multiplyAdds > 0 ? String(format: "%.1f", Double(st.multiplyAdds) / st.seconds / 1e9) : "-"
            s +=
                "| \(st.name) | \(st.kind) | \(st.implementation) | \(String(format: "%.2f", st.seconds * 1000)) | \(rate) |\n"
        }
        return s
    }

    private func date() -> String { ISO8601DateFormatter().string(from: Date()) }

    private func machine() -> String {
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces)
            ?? "unknown CPU"
        let load =
            (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(
                separator: " ") ?? "?"
        return
            "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) CPUs, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB, load average before the run \(load) (shared machine)"
    }
}
