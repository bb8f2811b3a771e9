import Foundation
import Logging

/// A swift-log handler that writes one JSON object per line: `time`, `level`, `message`, the
/// logger's label, then the metadata keys (job id, series UID, stage, durations...). journald
/// keeps each line as one entry.
///
/// Patient-identifying keys never leave the process: any metadata key that mentions a patient
/// is dropped here, as a last line of defence behind the rule that no one logs them.
public struct JSONLinesLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    /// The level follows `control`, so that SIGHUP can change it for every logger at once.
    public var logLevel: Logger.Level {
        get { control.level }
        set { control.level = newValue }
    }
    private let label: String
    private let sink: LineSink
    private let control: LogLevelControl

    public init(label: String, control: LogLevelControl, sink: LineSink = .standardOutput) {
        self.label = label
        self.control = control
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        // An error passed to the logger (rather than in the metadata) is logged as `error`.
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        var line = "{\"time\":"
        JSONText.appendString(Self.timestamp(), to: &line)
        line += ",\"level\":"
        JSONText.appendString(event.level.rawValue, to: &line)
        line += ",\"message\":"
        JSONText.appendString(event.message.description, to: &line)
        line += ",\"logger\":"
        JSONText.appendString(label, to: &line)
        for key in merged.keys.sorted() where !Self.isPatientKey(key) {
            line += ","
            JSONText.appendString(key, to: &line)
            line += ":"
            JSONText.append(merged[key]!, to: &line)
        }
        line += "}\n"
        sink.write(line)
    }

    static func isPatientKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return k.contains("patient") || k.contains("birth")
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1_000_000))
    }
}

/// The level shared by every handler of the process.
public final class LogLevelControl: @unchecked Sendable {
    // @unchecked: `stored` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: Logger.Level

    public init(_ level: Logger.Level) { stored = level }

    public var level: Logger.Level {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Where log lines go: a file descriptor, written with one write(2) per line so lines from
/// several threads never interleave.
public struct LineSink: Sendable {
    let descriptor: Int32

    public static let standardOutput = LineSink(descriptor: STDOUT_FILENO)

    public init(descriptor: Int32) { self.descriptor = descriptor }

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// Minimal JSON text building for log lines (keys in a fixed order, numbers kept as numbers).
enum JSONText {
    static func appendString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    static func append(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let s):
            appendString(s, to: &out)
        case .stringConvertible(let c):
            switch c {
            case let i as Int: out += String(i)
            case let i as any BinaryInteger: out += "\(i)"
            case let d as Double where d.isFinite: out += String(d)
            case let b as Bool: out += b ? "true" : "false"
            default: appendString(c.description, to: &out)
            }
        case .array(let values):
            out += "["
            for (i, v) in values.enumerated() {
                if i > 0 { out += "," }
                append(v, to: &out)
            }
            out += "]"
        case .dictionary(let dict):
            out += "{"
            for (i, key) in dict.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                append(dict[key]!, to: &out)
            }
            out += "}"
        }
    }
}
