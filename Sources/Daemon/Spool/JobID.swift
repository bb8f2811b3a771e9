import Foundation
import Synchronization

/// Job ids sort by creation time and never repeat: "j" + UTC time to the microsecond + 8 random
/// hex digits. Within one process they strictly increase, so of two jobs of one series the later
/// claim has the greater id (late files rely on it).
enum JobID {
    private static let last = Mutex(0.0)

    static func make(now: Date = Date()) -> String {
        let micros = last.withLock { last in
            last = max(floor(now.timeIntervalSince1970 * 1e6), last + 1)
            return last
        }
        let seconds = (micros / 1e6).rounded(.down)
        let date = Date(timeIntervalSince1970: seconds)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        let fraction = min(999_999, max(0, Int(micros - seconds * 1e6)))
        return "j" + formatter.string(from: date)
            + String(format: ".%06d-%08x", fraction, UInt32.random(in: .min ... .max))
    }
}
