import Foundation

/// Where one job's results go: `<out-dir>/<SeriesInstanceUID>/` for DICOM input, otherwise
/// `<out-dir>/<input file stem>/` (the name without .nii, .nii.gz or .nii.zst), with any
/// character outside letters, digits, '.', '-' and '_' replaced by '_'.
public enum ResultFolder {
    public static func name(seriesUID: String?, inputPath: String) -> String {
        if let uid = seriesUID?.trimmingCharacters(in: .whitespaces), !uid.isEmpty {
            return sanitized(uid)
        }
        var stem = inputPath.split(separator: "/").last.map(String.init) ?? ""
        for ending in [".nii.zst", ".nii.gz", ".nii"] where stem.lowercased().hasSuffix(ending) {
            stem = String(stem.dropLast(ending.count))
            break
        }
        return sanitized(stem.isEmpty ? "scan" : stem)
    }

    /// Creates `<outputDirectory>/<name>/` (and its parents) and returns its path.
    public static func create(outputDirectory: String, seriesUID: String?, inputPath: String) throws -> String {
        let path = "\(outputDirectory)/\(name(seriesUID: seriesUID, inputPath: inputPath))"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ExportError(path: path, reason: "cannot create the result folder: \((error as NSError).localizedDescription)")
        }
        return path
    }

    static func sanitized(_ text: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        let cleaned = String(text.map { allowed.contains($0) ? $0 : "_" })
        return cleaned.allSatisfy { $0 == "." } ? "_" + cleaned : cleaned
    }
}
