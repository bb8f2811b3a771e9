import Foundation

/// Where the shipped models are found, in one order for every command and the daemon (which
/// looks at its own `[job] model` and promoted versions first): $LCOVNET_MODEL ($LCOVNET_TEACHER),
/// then `Models/default` (`Models/teacher`) in the source tree the binary was built in (found by
/// walking up from the executable), then the installed copies (scripts/install.sh).
public enum ShippedModels {
    public static let installedRoots = ["/usr/local/share/lcovnet/models", "/usr/share/lcovnet/models"]

    /// The default model's folder (one with manifest.json), or nil.
    public static func defaultModel(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        locate("default", variable: "LCOVNET_MODEL", marker: "manifest.json", environment: environment)
    }

    /// The retraining teacher's state dict, or nil.
    public static func teacher(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        locate("teacher", variable: "LCOVNET_TEACHER", marker: "teacher.safetensors", environment: environment)
            .map { $0.hasSuffix(".safetensors") ? $0 : "\($0)/teacher.safetensors" }
    }

    /// Where `defaultModel` looks, for messages.
    public static var searched: String {
        "$LCOVNET_MODEL, the source tree's Models/default, "
            + installedRoots.map { "\($0)/default" }.joined(separator: ", ")
    }

    static func locate(_ name: String, variable: String, marker: String, environment: [String: String]) -> String? {
        let fm = FileManager.default
        if let value = environment[variable], !value.isEmpty { return value }
        let executable = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("Models/\(name)").path
            if fm.fileExists(atPath: "\(candidate)/\(marker)") { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return installedRoots.map { "\($0)/\(name)" }.first { fm.fileExists(atPath: "\($0)/\(marker)") }
    }
}
