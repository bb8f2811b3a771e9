import Daemon
import Foundation
import Segmentation

/// Which teacher a retraining round distils from: `[retrain] teacher` when it names a file, none
/// when it says "none", else the shipped teacher (ShippedModels: $LCOVNET_TEACHER, the source
/// tree's Models/teacher, the installed copy), so that a round does real work out of the box.
public enum TeacherLocation {
    /// `[retrain] teacher` value that turns the teacher off (rounds then train on corrections only).
    public static let none = "none"

    public static func path(_ c: DaemonConfiguration, environment: [String: String]) -> String? {
        switch c.retrain.teacher {
        case none: return nil
        case "": return ShippedModels.teacher(environment: environment)
        case let path: return path
        }
    }
}
