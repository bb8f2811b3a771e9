import Foundation

/// Reference programs the tests compare against (dcm2niix, Debian's python3 with nibabel,
/// pydicom and torch). Tests that need one are disabled by name when it is missing, so a
/// skipped check always shows up in the test report.
public enum ReferenceTools {
    /// Debian's interpreter, which carries python3-torch, nibabel and pydicom; a pyenv `python3`
    /// earlier on PATH usually has none of them.
    public static let python =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    /// The source tree (three levels above this file).
    public static let sourceRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// A venv with highdicom and rt-utils (not packaged by Debian; scripts/install-deps.sh makes it), or nil.
    public static let highdicomPython: String? = {
        let venv = sourceRoot.appendingPathComponent(".cache/dicom-venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }()

    /// Checks a DICOM Segmentation against its label map with highdicom (tools/check_seg.py):
    /// returns nil when it agrees, else what differs. `rowsReversed`: the label map's rows run
    /// opposite to the source images' (highdicom gives frames in the images' layout).
    public static func segmentationDisagreement(
        _ segmentation: String, labels: [UInt8], size: (slices: Int, rows: Int, columns: Int),
        sourceInstances: [String], rowsReversed: Bool, scratch: String
    ) throws -> String? {
        try readBackDisagreement(
            tool: "check_seg.py", [segmentation], labels: labels, size: size, sourceInstances: sourceInstances,
            rowsReversed: rowsReversed, scratch: scratch)
    }

    /// Checks an RT Structure Set against its label map with rt-utils (tools/check_rtstruct.py),
    /// which fills the contours back on the images of `seriesFolder`: nil when every organ agrees.
    public static func structureSetDisagreement(
        _ structureSet: String, seriesFolder: String, labels: [UInt8],
        size: (slices: Int, rows: Int, columns: Int), sourceInstances: [String],
        rowsReversed: Bool, scratch: String
    ) throws -> String? {
        try readBackDisagreement(
            tool: "check_rtstruct.py", [structureSet, seriesFolder], labels: labels, size: size,
            sourceInstances: sourceInstances, rowsReversed: rowsReversed, scratch: scratch)
    }

    /// Runs a read-back tool on the labels in the source images' row order (labels.raw) and the
    /// images' SOP Instance UIDs by slice (source.json).
    static func readBackDisagreement(
        tool: String, _ files: [String], labels: [UInt8], size: (slices: Int, rows: Int, columns: Int),
        sourceInstances: [String], rowsReversed: Bool, scratch: String
    ) throws -> String? {
        guard let python = highdicomPython else { return "no dicom-venv (scripts/install-deps.sh)" }
        try writeLabelLayout(
            labels, size: size, sourceInstances: sourceInstances, rowsReversed: rowsReversed, scratch: scratch)
        let script = sourceRoot.appendingPathComponent("tools/\(tool)").path
        let result = try run(python, [script] + files + ["\(scratch)/labels.raw", "\(scratch)/source.json"])
        return result.status == 0 && result.stdout.hasSuffix("ok\n") ? nil : result.stdout + result.stderr
    }

    /// Writes `labels` (on the ingested grid of `series`) as a DICOM Segmentation made by
    /// highdicom (tools/write_seg_highdicom.py), binary or fractional, to `out`.
    public static func highdicomSegmentation(
        of labels: [UInt8], size: (slices: Int, rows: Int, columns: Int), series: String,
        sourceInstances: [String], rowsReversed: Bool, fractional: Bool, to out: String,
        scratch: String
    ) throws {
        guard let python = highdicomPython else {
            throw ReferenceError(message: "no dicom-venv (scripts/install-deps.sh)")
        }
        try writeLabelLayout(
            labels, size: size, sourceInstances: sourceInstances, rowsReversed: rowsReversed, scratch: scratch)
        let script = sourceRoot.appendingPathComponent("tools/write_seg_highdicom.py").path
        let result = try run(
            python,
            [
                script, series, "\(scratch)/labels.raw", "\(scratch)/source.json", out,
                fractional ? "fractional" : "binary"
            ])
        guard result.status == 0 else {
            throw ReferenceError(message: "write_seg_highdicom.py failed: \(result.stderr)")
        }
    }

    /// labels.raw in the source images' row order and source.json (shape, SOP Instance UIDs by slice).
    static func writeLabelLayout(
        _ labels: [UInt8], size: (slices: Int, rows: Int, columns: Int), sourceInstances: [String],
        rowsReversed: Bool, scratch: String
    ) throws {
        var layout = labels
        if rowsReversed {
            let plane = size.rows * size.columns
            for k in 0..<size.slices {
                for r in 0..<size.rows {
                    let from = k * plane + r * size.columns
                    let to = k * plane + (size.rows - 1 - r) * size.columns
                    layout[to..<(to + size.columns)] = labels[from..<(from + size.columns)]
                }
            }
        }
        try Data(layout).write(to: URL(fileURLWithPath: "\(scratch)/labels.raw"))
        let description = try JSONSerialization.data(withJSONObject: [
            "shape": [size.slices, size.rows, size.columns], "instances": sourceInstances
        ])
        try description.write(to: URL(fileURLWithPath: "\(scratch)/source.json"))
    }

    public static func hasPythonModules(_ modules: String...) -> Bool {
        (try? run(python, ["-c", modules.map { "import \($0)" }.joined(separator: "; ")]).status) == 0
    }

    public static func hasExecutable(_ name: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs a program to completion and collects its output.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], workingDirectory: String? = nil) throws
        -> Result
    {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the child runs, so a chatty child never blocks on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        group.wait()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs a Python snippet with Debian's interpreter; throws with its stderr when it fails.
    public static func python(_ script: String, _ arguments: [String] = []) throws -> String {
        let result = try run(python, ["-c", script] + arguments)
        guard result.status == 0 else {
            throw ReferenceError(message: "python failed (\(result.status)): \(result.stderr)")
        }
        return result.stdout
    }
}

public struct ReferenceError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
