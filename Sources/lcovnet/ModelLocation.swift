import Foundation

/// Where the default model lives when `--model` is not given: $LCOVNET_MODEL, then
/// `Models/default` in the source tree the binary was built in (found by walking up from the
/// executable), then the installed copies.
enum ModelLocation {
    static let installed = ["/usr/local/share/lcovnet/models/default", "/usr/share/lcovnet/models/default"]

    static func defaultModel() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["LCOVNET_MODEL"], !env.isEmpty { return env }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("Models/default").path
            if fm.fileExists(atPath: candidate + "/manifest.json") { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return installed.first { fm.fileExists(atPath: $0 + "/manifest.json") }
    }
}
