import Foundation
import Ingest
import TestSupport
import Testing
import Volumes

/// DICOM files nobody here wrote: the test files shipped by the PyPI packages pydicom and
/// pydicom-data (scripts/fetch-test-data.sh installs them under .cache/). Each file, alone in a
/// folder, either converts with values equal to pydicom's decoded pixels × slope + intercept
/// (rounded to int16 HU), or is rejected with a code. None may crash the reader.
@Suite(.enabled(if: PydicomFiles.available, "needs scripts/fetch-test-data.sh (pydicom test files)"))
struct PydicomFilesTests {
    @Test func everyFileConvertsToPydicomsValuesOrIsRejectedWithACode() throws {
        let files = PydicomFiles.all
        #expect(files.count > 200)
        let references = try PydicomFiles.reference(for: files)
        var policy = IngestPolicy()
        policy.modalities = nil  // exercise every grayscale image, not only CT
        policy.gantryTilt = .reject  // compare unresampled voxels only
        var outcomes: [String: Int] = [:]
        var verified = 0
        for (index, file) in files.enumerated() {
            let outcome = try PydicomFiles.convert(file, policy: policy)
            switch outcome {
            case .rejected(let code):
                outcomes[code.rawValue, default: 0] += 1
            case .converted(let series, let candidate):
                outcomes["converted", default: 0] += 1
                let reference = references.entries[index]
                guard reference.decoded else {
                    Issue.record(
                        "\(file): converted, but pydicom cannot decode it (\(reference.error)) — nothing to check against"
                    )
                    continue
                }
                let values = try references.values(index)
                let v = series.volume
                let s = v.size
                #expect(s.i == reference.columns && s.j == reference.rows, "\(file)")
                var worst = 0.0
                for k in 0..<s.k {
                    let frame = candidate.slices[k].frame
                    for j in 0..<s.j {
                        let row = s.j - 1 - j
                        for i in 0..<s.i {
                            let expected = values[(frame * s.j + row) * s.i + i]
                            let clamped = min(max(expected, Double(Int16.min)), Double(Int16.max))
                            worst = max(worst, abs(Double(v[i, j, k]) - clamped))
                        }
                    }
                }
                #expect(worst <= 0.5 + 1e-6, "\(file): largest difference from pydicom \(worst)")
                verified += 1
            }
        }
        print(
            "pydicom files (any modality): \(files.count) files, \(verified) verified against pydicom; "
                + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        #expect(verified >= 40)
    }

    /// With the default policy (CT only) every file still ends in a conversion or a code.
    @Test func defaultPolicyCounts() throws {
        var outcomes: [String: Int] = [:]
        for file in PydicomFiles.all {
            switch try PydicomFiles.convert(file, policy: IngestPolicy()) {
            case .rejected(let code): outcomes[code.rawValue, default: 0] += 1
            case .converted: outcomes["converted", default: 0] += 1
            }
        }
        print(
            "pydicom files (default policy): "
                + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        #expect(outcomes["converted", default: 0] > 0)
        #expect(outcomes.values.reduce(0, +) == PydicomFiles.all.count)
    }
}

enum PydicomFiles {
    static let venv = FileManager.default.currentDirectoryPath + "/.cache/pydicom-venv"
    static var sitePackages: String? {
        let lib = venv + "/lib"
        guard
            let version = try? FileManager.default.contentsOfDirectory(atPath: lib).first(where: {
                $0.hasPrefix("python3")
            })
        else { return nil }
        return "\(lib)/\(version)/site-packages"
    }
    static var available: Bool {
        guard let site = sitePackages else { return false }
        return FileManager.default.fileExists(atPath: "\(site)/pydicom/data/test_files")
    }

    /// Every data file of both packages (code and notes left out), sorted.
    static let all: [String] = {
        guard let site = sitePackages else { return [] }
        let skipped: Set<String> = ["py", "pyc", "md", "txt", "json", "gz", "icc"]
        var files: [String] = []
        for root in ["\(site)/pydicom/data/test_files", "\(site)/data_store/data"] {
            guard let enumerator = FileManager.default.enumerator(atPath: root) else { continue }
            for case let relative as String in enumerator {
                let path = "\(root)/\(relative)"
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    !skipped.contains((relative as NSString).pathExtension.lowercased())
                else { continue }
                files.append(path)
            }
        }
        return files.sorted()
    }()

    enum Outcome {
        case converted(LoadedSeries, SeriesCandidate)
        case rejected(IngestCode)
    }

    /// Converts one file alone in a folder, as `convert` would.
    static func convert(_ file: String, policy: IngestPolicy) throws -> Outcome {
        let folder = try TemporaryDirectory("pydicom-file")
        try FileManager.default.createSymbolicLink(atPath: folder.file("file"), withDestinationPath: file)
        do {
            let scan = try DicomFolder.scan(folder.path, policy: policy)
            // The file's own reason, not the folder's "no series".
            if scan.candidates.isEmpty, let note = scan.rejectedSeries.first?.reason ?? scan.fileNotes.first {
                return .rejected(note.code)
            }
            let candidate = try scan.select()
            return .converted(try DicomFolder.load(candidate, policy: policy), candidate)
        } catch {
            return .rejected(error.code)
        }
    }

    struct Entry: Decodable {
        var file: String
        var decoded: Bool
        var frames: Int
        var rows: Int
        var columns: Int
        var error: String
    }

    struct References {
        var directory: TemporaryDirectory
        var entries: [Entry]
        func values(_ index: Int) throws -> [Double] {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory.file("\(index).f64")))
            return data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        }
    }

    /// pydicom's decoded values for every file (tools/pydicom_reference.py in the venv).
    static func reference(for files: [String]) throws -> References {
        let directory = try TemporaryDirectory("pydicom-reference")
        let script = FileManager.default.currentDirectoryPath + "/tools/pydicom_reference.py"
        let result = try ReferenceTools.run("\(venv)/bin/python", [script, directory.path] + files)
        guard result.status == 0 else { throw IngestTestFailure("pydicom_reference.py failed: \(result.stderr)") }
        let entries = try JSONDecoder().decode([Entry].self, from: Data(result.stdout.utf8))
        return References(directory: directory, entries: entries)
    }
}

struct IngestTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
