import DurableFiles
import Foundation

/// Where one job's results go: `<out-dir>/<SeriesInstanceUID>/` for DICOM input, otherwise
/// `<out-dir>/<input file stem>/` (the name without .nii, .nii.gz or .nii.zst), with any
/// character outside letters, digits, '.', '-' and '_' replaced by '_'.
public enum ResultFolder {
    public static func name(seriesUID: String?, inputPath: String) -> String {
        if let uid = seriesUID?.trimmingCharacters(in: .whitespaces), !uid.isEmpty {
            return SafeFileName.make(uid)
        }
        var stem = inputPath.split(separator: "/").last.map(String.init) ?? ""
        for ending in [".nii.zst", ".nii.gz", ".nii"] where stem.lowercased().hasSuffix(ending) {
            stem = String(stem.dropLast(ending.count))
            break
        }
        return SafeFileName.make(stem.isEmpty ? "scan" : stem)
    }

    /// Creates the output folder (and its parents) if need be.
    public static func ensureOutputDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ExportError(
                path: path, reason: "cannot create the output folder: \((error as NSError).localizedDescription)")
        }
    }

    /// Writes a result folder whole or not at all: `write` fills a hidden staging folder beside
    /// it, which then takes the place of `<outputDirectory>/<name>/` (an earlier result there is
    /// replaced as a whole, never mixed with the new files). When `write` fails, the staging
    /// folder is removed and an earlier result stays as it was. Returns the folder's path.
    public static func publish<T>(outputDirectory: String, name: String, _ write: (_ staging: String) throws -> T)
        throws -> (folder: String, value: T)
    {
        let fm = FileManager.default
        let folder = "\(outputDirectory)/\(name)"
        let tag = "\(getpid())-\(UInt32.random(in: .min ... .max))"
        let staging = "\(outputDirectory)/.\(name).partial-\(tag)"
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        } catch {
            throw ExportError(
                path: staging, reason: "cannot create the result folder: \((error as NSError).localizedDescription)")
        }
        let value: T
        do { value = try write(staging) } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
        let replaced = "\(outputDirectory)/.\(name).replaced-\(tag)"
        let hadEarlier = fm.fileExists(atPath: folder)
        guard !hadEarlier || rename(folder, replaced) == 0, rename(staging, folder) == 0 else {
            let reason = String(cString: strerror(errno))
            if hadEarlier && !fm.fileExists(atPath: folder) { _ = rename(replaced, folder) }
            try? fm.removeItem(atPath: staging)
            throw ExportError(path: folder, reason: "cannot move the result into place: \(reason)")
        }
        if hadEarlier { try? fm.removeItem(atPath: replaced) }
        try AtomicFile.syncFolder(outputDirectory)
        return (folder, value)
    }

}
