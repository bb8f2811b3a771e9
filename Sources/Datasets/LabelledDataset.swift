import Foundation
import ModelSpec
import Volumes

/// A site's labelled CT in the layouts sites have, as (image, labels) pairs, with how the
/// dataset's label values map to the model's classes:
/// - nnU-Net raw: `dataset.json`, `imagesTr/X_0000.nii.gz` with `labelsTr/X.nii.gz` (and `Ts`);
/// - MSD: `dataset.json` listing `training` pairs;
/// - WORD: `imagesTr|imagesVal|imagesTs/X.nii.gz` with `labelsTr|labelsVal|labelsTs/X.nii.gz`;
/// - a CSV of image,label paths (PyMIC's), relative to the CSV's folder (an image may be a DICOM folder);
/// - DICOM folders: `X/` holding one CT series with its label map `X.nii.gz` (.nii, .nii.zst) or its
///   DICOM Segmentation `X.dcm` beside it (a CSV may name a SEG `.dcm` as a case's labels too).
/// Organs the dataset does not label are left out of its map (partial labels): they are neither
/// scored nor taught as background.
public struct LabelledDataset: Sendable {
    public struct Case: Sendable, Codable, Equatable {
        public var id: String
        public var image: String
        public var labels: String

        public init(id: String, image: String, labels: String) {
            self.id = id
            self.image = image
            self.labels = labels
        }
    }

    public var layout: String
    public var cases: [Case]
    /// Dataset label value → model class id, for the organs the dataset labels.
    public var labelMap: [Int: Int]
    /// The model's classes (a DICOM Segmentation's segments map to them by name).
    public var classes: [OrganClass]

    /// Reads the layout at `path` (a folder, or a CSV file). `labelMap` (dataset value → class
    /// name or id) replaces what dataset.json's names say; without either, values are WORD's ids.
    public init(path: String, classes: [OrganClass], labelMap explicit: [String: String]? = nil) throws {
        let fm = FileManager.default
        var names: [Int: String]?
        if path.lowercased().hasSuffix(".csv") {
            layout = "csv"
            cases = try Self.csvCases(path)
        } else if let data = fm.contents(atPath: "\(path)/dataset.json") {
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            names = Self.labelNames(json["labels"])
            if let training = json["training"] as? [[String: String]], !training.isEmpty {
                layout = "msd"
                cases = training.compactMap { pair in
                    guard let image = pair["image"], let label = pair["label"] else { return nil }
                    return Case(
                        id: Self.caseID(label), image: Self.resolve(image, in: path),
                        labels: Self.resolve(label, in: path))
                }
            } else {
                layout = "nnunet"
                let ending = json["file_ending"] as? String ?? ".nii.gz"
                cases = ["Tr", "Ts"].flatMap { split in
                    Self.files(in: "\(path)/labels\(split)", ending: ending).compactMap { label in
                        let id = String(label.dropLast(ending.count))
                        let image = "\(path)/images\(split)/\(id)_0000\(ending)"
                        return fm.fileExists(atPath: image)
                            ? Case(id: id, image: image, labels: "\(path)/labels\(split)/\(label)") : nil
                    }
                }
            }
        } else if fm.fileExists(atPath: "\(path)/labelsTr") || fm.fileExists(atPath: "\(path)/labelsVal")
            || fm.fileExists(atPath: "\(path)/labelsTs")
        {
            layout = "word"
            cases = ["Tr", "Val", "Ts"].flatMap { split in
                Self.files(in: "\(path)/labels\(split)", ending: ".nii.gz").compactMap { label in
                    let image = "\(path)/images\(split)/\(label)"
                    return fm.fileExists(atPath: image)
                        ? Case(id: String(label.dropLast(7)), image: image, labels: "\(path)/labels\(split)/\(label)")
                        : nil
                }
            }
        } else {
            layout = "dicom"
            cases = Self.dicomCases(path)
        }
        guard !cases.isEmpty else {
            throw PathError<LabelledDataset>(
                path: path,
                reason:
                    "no image/label pairs found (nnU-Net raw, MSD, WORD's folders, a CSV of image,label, or DICOM folders X/ with X.nii.gz or a SEG X.dcm beside them)"
            )
        }
        self.classes = classes
        labelMap = try Self.map(
            explicit ?? names.map { Dictionary(uniqueKeysWithValues: $0.map { ("\($0.key)", $0.value) }) },
            classes: classes)
    }

    /// The label values of public abdominal CT sets (their papers' and challenges' label lists):
    /// `--label-map btcv` etc. Vessels and tumours are left out; both adrenal glands map to
    /// WORD's one adrenal class.
    public static let knownLabelMaps: [String: [String: String]] = [
        "btcv": [
            "1": "spleen", "2": "right kidney", "3": "left kidney", "4": "gallbladder", "5": "esophagus", "6": "liver",
            "7": "stomach", "11": "pancreas", "12": "right adrenal gland", "13": "left adrenal gland"
        ],
        "amos": [
            "1": "spleen", "2": "right kidney", "3": "left kidney", "4": "gallbladder", "5": "esophagus", "6": "liver",
            "7": "stomach", "10": "pancreas", "11": "right adrenal gland", "12": "left adrenal gland", "13": "duodenum",
            "14": "bladder"
        ],
        "flare22": [
            "1": "liver", "2": "right kidney", "3": "spleen", "4": "pancreas", "7": "right adrenal gland",
            "8": "left adrenal gland",
            "9": "gallbladder", "10": "esophagus", "11": "stomach", "12": "duodenum", "13": "left kidney"
        ],
        "word": [
            "1": "liver", "2": "spleen", "3": "left kidney", "4": "right kidney", "5": "stomach", "6": "gallbladder",
            "7": "esophagus",
            "8": "pancreas", "9": "duodenum", "10": "colon", "11": "intestine", "12": "adrenal", "13": "rectum",
            "14": "bladder",
            "15": "left head of femur", "16": "right head of femur"
        ]
    ]

    /// `--label-map`: a known dataset's name (`knownLabelMaps`) or a JSON file of label value →
    /// organ name or class id.
    public static func labelMap(named nameOrFile: String) throws -> [String: String] {
        if let known = knownLabelMaps[nameOrFile.lowercased()] { return known }
        guard let data = FileManager.default.contents(atPath: nameOrFile),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw PathError<LabelledDataset>(
                path: nameOrFile,
                reason:
                    "not a known dataset (\(knownLabelMaps.keys.sorted().joined(separator: ", "))) nor a JSON object of label value → organ"
            )
        }
        return object.mapValues { "\($0)" }
    }

    /// dataset.json's labels: nnU-Net v2 {"liver": 1}, v1 and MSD {"1": "liver"}.
    static func labelNames(_ value: Any?) -> [Int: String]? {
        guard let object = value as? [String: Any] else { return nil }
        var names: [Int: String] = [:]
        for (key, value) in object {
            if let id = Int(key), let name = value as? String {
                names[id] = name
            } else if let id = value as? Int {
                names[id] = key
            }
        }
        names[0] = nil
        return names.isEmpty ? nil : names
    }

    /// Value → class: a class name (or one of the names other datasets use for it) or a class id.
    /// Without a map, the dataset uses the model's own ids.
    static func map(_ names: [String: String]?, classes: [OrganClass]) throws -> [Int: Int] {
        guard let names else {
            return Dictionary(uniqueKeysWithValues: classes.filter { $0.id > 0 }.map { ($0.id, $0.id) })
        }
        var map: [Int: Int] = [:]
        for (key, name) in names {
            guard let value = Int(key) else {
                throw PathError<LabelledDataset>(path: "label map", reason: "\"\(key)\" is not a label value")
            }
            if let id = Int(name), classes.contains(where: { $0.id == id && id > 0 }) {
                map[value] = id
                continue
            }
            let wanted = OrganSynonyms.canonical(name)
            if let organ = classes.first(where: { $0.id > 0 && OrganSynonyms.canonical($0.name) == wanted }) {
                map[value] = organ.id
            }
            // Anything else (vessels, lesions, organs the model does not know) is left out.
        }
        return map
    }

    static func csvCases(_ path: String) throws -> [Case] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PathError<LabelledDataset>(path: path, reason: "cannot be read")
        }
        let folder = (path as NSString).deletingLastPathComponent
        var rows = text.split(whereSeparator: \.isNewline).map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let header = rows.first, header.first?.lowercased() == "image" { rows.removeFirst() }
        return rows.filter { $0.count >= 2 }.map {
            Case(id: caseID($0[1]), image: resolve($0[0], in: folder), labels: resolve($0[1], in: folder))
        }
    }

    /// Subfolders with a label map or a DICOM Segmentation of the same name beside them.
    static func dicomCases(_ path: String) -> [Case] {
        let fm = FileManager.default
        let entries = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return entries.compactMap { name in
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: "\(path)/\(name)", isDirectory: &isDirectory), isDirectory.boolValue,
                let label = [".nii.gz", ".nii.zst", ".nii", ".dcm"].map({ "\(path)/\(name)\($0)" }).first(where: {
                    fm.fileExists(atPath: $0)
                })
            else { return nil }
            return Case(id: name, image: "\(path)/\(name)", labels: label)
        }
    }

    static func files(in folder: String, ending: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
            $0.hasSuffix(ending) && !$0.hasPrefix(".")
        }.sorted()
    }

    static func resolve(_ path: String, in folder: String) -> String {
        path.hasPrefix("/") ? path : "\(folder)/\(path.hasPrefix("./") ? String(path.dropFirst(2)) : path)"
    }

    static func caseID(_ path: String) -> String {
        var name = (path as NSString).lastPathComponent
        for ending in [".nii.gz", ".nii.zst", ".nii", ".dcm"] where name.hasSuffix(ending) {
            name = String(name.dropLast(ending.count))
        }
        return name
    }
}
