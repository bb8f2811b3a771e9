import Datasets
import Foundation
import ModelSpec
import NIfTI
import Volumes

/// The training cases of a labelled dataset as training volumes: each prepared once as the model
/// wants it and cached on disk (zstd NIfTI, with a JSON record of what it was prepared from and
/// how), so a second run, or a resumed one, reads it instead of preparing again.
struct DatasetCases {
    let dataset: LabelledDataset
    /// The training part of the hash split, in id order.
    let cases: [LabelledDataset.Case]
    let spec: InputPreparation
    let cache: String

    init(_ configuration: TrainingConfiguration, classes: [OrganClass]) throws {
        guard let path = configuration.dataset else { throw TrainingError("no dataset configured") }
        try self.init(
            path: path, labelMap: configuration.datasetLabelMap,
            validationFraction: configuration.validationFraction ?? LabelledDataset.defaultValidationFraction,
            spec: configuration.input, cache: configuration.preparedCache, classes: classes)
    }

    /// - Parameter cache: folder of the prepared cases (nil: ~/.cache/lcovnet/prepared-cases).
    init(
        path: String, labelMap: [String: String]?, validationFraction: Double, spec: InputPreparation, cache: String?,
        classes: [OrganClass]
    ) throws {
        dataset = try LabelledDataset(path: path, classes: classes, labelMap: labelMap)
        cases = dataset.cases(validation: false, fraction: validationFraction)
        guard !cases.isEmpty else {
            throw TrainingError(
                "\(path): all \(dataset.cases.count) cases fall in the validation split; lower the validation fraction")
        }
        self.spec = spec
        self.cache =
            cache
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lcovnet/prepared-cases")
            .path
    }

    func item(forSeed seed: UInt64) -> LabelledDataset.Case { cases[Int((max(seed, 1) - 1) % UInt64(cases.count))] }

    /// The case seed `seed` stands for, prepared (from the cache when it holds this preparation).
    func volume(forSeed seed: UInt64, classCount: Int, threads: Int) throws -> TrainingVolume {
        let item = item(forSeed: seed)
        let record = try CacheRecord(item, spec: spec, labelMap: dataset.labelMap)
        let stem = "\(cache)/\(Self.fileSafe(item.id))-\(record.key)"
        var volume: TrainingVolume
        if let cached = try? Self.read(stem, record: record) {
            volume = TrainingVolume(
                size: cached.size, image: cached.image, labels: cached.labels, classCount: classCount,
                unlabelled: CaseLabels.unlabelled(cached.labelled, classCount: classCount))
        } else {
            let scan = try dataset.scan(of: item)
            let labels = try dataset.labels(of: item, on: scan.geometry)
            volume = try TrainingVolume(
                image: scan, labels: labels.volume, spec: spec, classCount: classCount, threads: threads)
            volume.unlabelled = labels.unlabelledClasses(classCount: classCount)
            try Self.write(volume, to: stem, entry: CacheEntry(record: record, labelled: labels.labelled.sorted()))
        }
        // The prepared axis whose letter is L or R (LPS: i); unknown in the stored voxel order.
        volume.caseLeftRightAxis =
            spec.orientation.flatMap { code in
                code.firstIndex(where: { $0 == "L" || $0 == "R" }).map { code.distance(from: code.startIndex, to: $0) }
            } ?? -1
        return volume
    }

    /// The JSON beside a cached case: what it was prepared from, and the classes it labels.
    struct CacheEntry: Codable {
        var record: CacheRecord
        var labelled: [Int]
    }

    /// What a cached case was prepared from and how; its hash names the files.
    struct CacheRecord: Codable, Equatable {
        var id: String
        var image: String
        var labels: String
        /// Size and modification time of both files: a changed case is prepared again.
        var imageStamp: [Double]
        var labelStamp: [Double]
        var preparation: InputPreparation
        var labelMap: [String: Int]

        init(_ item: LabelledDataset.Case, spec: InputPreparation, labelMap: [Int: Int]) throws {
            func stamp(_ path: String) throws -> [Double] {
                let a = try FileManager.default.attributesOfItem(atPath: path)
                return [Double((a[.size] as? Int) ?? 0), (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0]
            }
            id = item.id
            image = item.image
            labels = item.labels
            imageStamp = try stamp(item.image)
            labelStamp = try stamp(item.labels)
            preparation = spec
            self.labelMap = Dictionary(uniqueKeysWithValues: labelMap.map { ("\($0.key)", $0.value) })
        }

        var json: Data {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            return (try? encoder.encode(self)) ?? Data()
        }

        /// FNV-1a of the record's JSON, as 16 hex digits.
        var key: String { StableHash.hex(StableHash.fnv1a(bytes: json)) }
    }

    static func fileSafe(_ id: String) -> String {
        String(id.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
    }

    private static func read(_ stem: String, record: CacheRecord) throws -> (
        size: Extent3, image: [Float], labels: [UInt8], labelled: Set<Int>
    ) {
        let saved = try JSONDecoder().decode(
            CacheEntry.self, from: Data(contentsOf: URL(fileURLWithPath: "\(stem).json")))
        guard saved.record == record else { throw TrainingError("\(stem).json records another preparation") }
        let image = try NIfTIFile.read("\(stem).image.nii.zst").floatVolume()
        let labels = try NIfTIFile.readLabels("\(stem).labels.nii.zst")
        guard image.geometry.size == labels.geometry.size else {
            throw TrainingError("\(stem): image and labels differ in size")
        }
        return (image.geometry.size, image.voxels, labels.voxels, Set(saved.labelled))
    }

    /// Written under temporary names and renamed, the record last, so a run killed while writing
    /// leaves no cache entry that reads as complete.
    private static func write(_ volume: TrainingVolume, to stem: String, entry: CacheEntry) throws {
        try FileManager.default.createDirectory(
            atPath: (stem as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let geometry = Geometry(size: volume.size)
        let files = [
            (
                "image.nii.zst",
                { (path: String) in try NIfTIFile.write(Volume(geometry: geometry, voxels: volume.image), to: path) }
            ),
            (
                "labels.nii.zst",
                { (path: String) in try NIfTIFile.write(Volume(geometry: geometry, voxels: volume.labels), to: path) }
            )
        ]
        for (ending, write) in files {
            // Unique per writer: a prefetch thread may prepare the case the loop also asks for.
            let temporary = "\(stem).partial-\(UUID().uuidString).\(ending)"
            try write(temporary)
            guard rename(temporary, "\(stem).\(ending)") == 0 else {
                throw TrainingError("\(stem).\(ending): cannot be written (errno \(errno))")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(entry).write(to: URL(fileURLWithPath: "\(stem).json"), options: .atomic)
    }
}
