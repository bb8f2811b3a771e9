import Foundation
import NIfTI
import Volumes

/// The real label maps that synthesized scans are built on (WORD's 16 organs, everything else 0),
/// split once and for all into the maps training may use and the maps it never sees.
///
/// The split is by position in the name-sorted list: every sixth map (indices 5, 11, 17, ...) is
/// held out, so a folder of 31 maps gives 26 for training and 5 for validation, and adding a map
/// at the end never moves an existing one across the split.
public struct AnatomyMaps: Sendable {
    public let folder: String
    /// File names (relative to `folder`), sorted.
    public let names: [String]

    /// Lists `*.nii`, `*.nii.gz` and `*.nii.zst` files under `folder` (one level of sub-folders
    /// too, as WORD's zip unpacks into `labelsTs/`).
    public init(folder: String) throws {
        self.folder = folder
        let fm = FileManager.default
        var found: [String] = []
        let entries = try fm.contentsOfDirectory(atPath: folder)
        for entry in entries {
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: "\(folder)/\(entry)", isDirectory: &isDirectory), isDirectory.boolValue {
                for inner in (try? fm.contentsOfDirectory(atPath: "\(folder)/\(entry)")) ?? []
                where Self.isLabelMap(inner) {
                    found.append("\(entry)/\(inner)")
                }
            } else if Self.isLabelMap(entry) {
                found.append(entry)
            }
        }
        names = found.sorted()
        guard !names.isEmpty else { throw SynthesisError.noLabelMaps(folder) }
    }

    static func isLabelMap(_ name: String) -> Bool {
        name.hasSuffix(".nii") || name.hasSuffix(".nii.gz") || name.hasSuffix(".nii.zst")
    }

    public var training: [String] { names.enumerated().filter { $0.offset % 6 != 5 }.map(\.element) }
    public var heldOut: [String] { names.enumerated().filter { $0.offset % 6 == 5 }.map(\.element) }

    /// The map a sample seed is built on: seeds below 1000 cycle through the training maps,
    /// seeds from 1000 on (the held-out range, as for phantoms) through the held-out maps.
    public func name(forSeed seed: UInt64) -> String {
        let list = seed >= 1000 ? heldOut : training
        return list[Int(seed % UInt64(list.count))]
    }

    /// Reads one map; labels above 16 are an error (not a WORD map).
    public func load(_ name: String) throws -> Volume<UInt8> {
        let path = "\(folder)/\(name)"
        let labels = try NIfTIFile.readLabels(path)
        if let bad = labels.voxels.first(where: { $0 > 16 }) { throw SynthesisError.notWORDLabels(path, Int(bad)) }
        return labels
    }
}

public enum SynthesisError: Error, CustomStringConvertible {
    case noLabelMaps(String)
    case notWORDLabels(String, Int)
    case missingOrgans(String)

    public var description: String {
        switch self {
        case .noLabelMaps(let folder): "\(folder): no label maps (.nii, .nii.gz, .nii.zst) found"
        case .notWORDLabels(let path, let value): "\(path): label \(value) is not one of WORD's 0-16"
        case .missingOrgans(let path):
            "\(path): the map lacks the kidneys or femoral heads the synthesizer places the skeleton by"
        }
    }
}
