import Foundation

/// Job ids sort by creation time and never repeat: "j" + UTC time + 8 random hex digits.
enum JobID {
    static func make(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return "j" + formatter.string(from: now) + "-" + String(format: "%08x", UInt32.random(in: .min ... .max))
    }
}
