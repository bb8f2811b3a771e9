import Daemon
import Foundation

/// Which teacher a retraining round distils from: `[retrain] teacher` when it names a file, none
/// when it says "none", else $LCOVNET_TEACHER, else the teacher installed beside the default
/// model (scripts/install.sh copies Models/teacher there), so that a round does real work out of
/// the box.
public enum TeacherLocation {
    public static let installed = ["/usr/local/share/lcovnet/models/teacher/teacher.safetensors",
                                   "/usr/share/lcovnet/models/teacher/teacher.safetensors"]
    /// `[retrain] teacher` value that turns the teacher off (rounds then train on corrections only).
    public static let none = "none"

    public static func path(_ c: DaemonConfiguration, environment: [String: String]) -> String? {
        switch c.retrain.teacher {
        case none: return nil
        case "":
            if let env = environment["LCOVNET_TEACHER"], !env.isEmpty { return env }
            return installed.first { FileManager.default.fileExists(atPath: $0) }
        case let path: return path
        }
    }
}
