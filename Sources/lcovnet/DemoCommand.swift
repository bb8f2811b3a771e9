import ArgumentParser
import Foundation
import Inference
import Ingest
import Logging
import ModelSpec
import NIfTI
import Phantom
import PhantomDicom
import Segmentation
import Volumes

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The main job on the embedded default: a synthetic scan through the whole pipeline.",
        discussion: """
            Generates an abdominal phantom (a seed never used in training) as a folder of DICOM files, \\
            segments it with the default model exactly as `lcovnet segment` would, and prints where the \\
            results are and the Dice of each organ against the phantom's own labels.
            """)

    @Option(name: .shortAndLong, help: "Output folder.") var output: String = "out/demo"
    @Option(help: "Phantom seed (seeds below 100000 are kept out of training).") var seed: UInt64 = 424_242
    @Option(help: "Model folder (default: the embedded default model).") var model: String?
    @Option(help: "int8 or fp32 (default: the model's own precision).") var precision: Precision?
    @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        let logger = Logger(label: "lcovnet.demo")
        guard let modelPath = model ?? ShippedModels.defaultModel() else {
            FileHandle.standardError.write(
                Data(
                    "lcovnet demo: no default model found (Models/default is missing; scripts/train-default-model.sh makes it)\n"
                        .utf8))
            throw ExitCode(ExitStatus.modelNotUsable)
        }
        let directory = try ModelDirectory(path: modelPath)
        let started = ContinuousClock.now
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: seed, matrix: 256))
        let dicom = "\(output)/phantom-\(seed)/dicom"
        try? FileManager.default.removeItem(atPath: dicom)
        var options = DicomWriterOptions()
        options.seriesDescription = "lcovnet demo phantom"
        let written = try DicomSeriesWriter(options).write(phantom.image, to: dicom)
        try NIfTIFile.write(phantom.labels, to: "\(output)/phantom-\(seed)/labels.nii.gz")
        print(
            "phantom \(seed): \(written.files.count) DICOM files in \(dicom) "
                + String(format: "(%.1f s)", (ContinuousClock.now - started).inSeconds))

        let reporter = ProgressReporter(started: ContinuousClock.now)
        let jobStart = ContinuousClock.now
        let scan = try ScanInput.load(dicom, logger: logger)
        let loadSeconds = (ContinuousClock.now - jobStart).inSeconds
        let segmenter = Segmenter(
            model: directory, options: SegmentationOptions(precision: precision, threads: threads), logger: logger)
        let outcome = try SegmentationJob.run(
            scan, outputDirectory: "\(output)/results", segmenter: segmenter,
            loadSeconds: loadSeconds, progress: reporter.report)
        let overlap = LabelOverlap(
            prediction: outcome.result.labels.voxels, reference: phantom.labels.voxels,
            labelCount: directory.manifest.classes.count)
        print(
            "segmented in " + String(format: "%.1f s", (ContinuousClock.now - jobStart).inSeconds)
                + " (\(outcome.result.precision.rawValue), \(threads) threads): results in \(outcome.folder)")
        for organ in directory.manifest.classes.dropFirst() {
            guard let dice = overlap.dice(organ.id) else { continue }
            print(String(format: "  %-20@ Dice %.3f", organ.name, dice))
        }
        if let mean = overlap.meanForegroundDice {
            print(
                String(
                    format: "mean Dice over %d organs: %.3f", overlap.reference.dropFirst().filter { $0 > 0 }.count,
                    mean))
        }
    }
}
