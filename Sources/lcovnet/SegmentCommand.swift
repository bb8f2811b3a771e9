import ArgumentParser
import Export
import Foundation
import Inference
import Ingest
import Logging
import Segmentation
import Volumes

struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Segment the 16 WORD organs of one CT scan.",
        discussion: """
            INPUT is a folder of DICOM files (the preferred CT series in it, as `convert` picks it) or a \\
            .nii, .nii.gz or .nii.zst file. Results go to OUT/<SeriesInstanceUID or file stem>/: \\
            segmentation.nii.zst and segmentation.nii.gz (uint8 labels 0..16 on the scan's own grid), \\
            statistics.json, preview.png and provenance.json. Progress lines go to stderr. \\
            Exit codes: 0 done, 3 input missing, 4 no DICOM file, 5 no eligible series, 6 series not found, \\
            7 pixel data not decodable, 8 results not writable, 9 model not usable, 10 inference failed.
            """)

    @Argument(help: "A DICOM folder or a NIfTI file.") var input: String
    @Option(name: .shortAndLong, help: "Output folder.") var output: String
    @Option(help: "Model folder (default: $LCOVNET_MODEL, the source tree's Models/default, or the installed default).")
    var model: String?
    @Option(help: "int8 or fp32 (default: the model's own precision).") var precision: Precision?
    @Option(help: "Threads for preparation and the network.") var threads: Int = ProcessInfo.processInfo
        .activeProcessorCount
    @Option(help: "Working memory in MiB besides the scan itself.") var memoryBudget: Int = SegmentationOptions
        .defaultMemoryBudgetMiB
    @Option(help: "Overlap of neighbouring windows, as a fraction of the window (0 ≤ overlap < 1).") var overlap:
        Double = SegmentationOptions().overlap
    @Option(help: "Series to take from a DICOM folder (UID or the key `convert --list` shows).") var series: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard memoryBudget >= 64 else { throw ValidationError("--memory-budget must be at least 64 MiB") }
        guard (0..<1).contains(overlap) else {
            throw ValidationError("--overlap \(overlap): expected a fraction in [0, 1)")
        }
    }

    func run() throws {
        let started = ContinuousClock.now
        let reporter = ProgressReporter(started: started)
        let logger = Logger(label: "lcovnet.segment")
        do {
            guard let modelPath = model ?? ShippedModels.defaultModel() else {
                throw CommandFailure(
                    line: "no model: give --model DIR (no default model is installed)",
                    exitCode: ExitStatus.modelNotUsable)
            }
            let directory: ModelDirectory
            do { directory = try ModelDirectory(path: modelPath) } catch {
                throw CommandFailure(line: "\(modelPath): \(error)", exitCode: ExitStatus.modelNotUsable)
            }
            reporter.report(.load, 0)
            let scan: ScanInput
            do { scan = try ScanInput.load(input, series: series, logger: logger) } catch let error as IngestError {
                throw CommandFailure(line: error.description, exitCode: ExitStatus.ingest(error.code))
            } catch {
                throw CommandFailure(
                    line: "\(error)",
                    exitCode: (error as? SegmentationError) != nil
                        ? ExitStatus.inputMissing : ExitStatus.nothingReadable)
            }
            let loadSeconds = (ContinuousClock.now - started).inSeconds
            reporter.report(.load, 1)
            let segmenter = Segmenter(
                model: directory,
                options: SegmentationOptions(
                    precision: precision, threads: threads,
                    memoryBudgetMiB: memoryBudget, overlap: overlap), logger: logger)
            let outcome: SegmentationJob.Outcome
            do {
                outcome = try SegmentationJob.run(
                    scan, outputDirectory: output, segmenter: segmenter, loadSeconds: loadSeconds,
                    progress: reporter.report)
            } catch let error as ExportError {
                throw CommandFailure(line: "\(error)", exitCode: ExitStatus.outputNotWritable)
            } catch {
                throw CommandFailure(line: "\(input): \(error)", exitCode: ExitStatus.inferenceFailed)
            }
            let organs = outcome.organs.filter { $0.voxelCount > 0 }.count
            let result = outcome.result
            let window = result.window
            print(
                "segmented \(scan.name): \(organs) organs found, results in \(outcome.folder) "
                    + String(format: "(%.1f s; ", (ContinuousClock.now - started).inSeconds)
                    + "\(result.precision.rawValue), \(result.windowCount) windows of \(window.d)×\(window.h)×\(window.w))"
            )
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("lcovnet segment: \(failure.line)\n".utf8))
            throw ExitCode(failure.exitCode)
        }
    }
}

/// Progress lines on stderr: stage, percent, elapsed seconds; at most one per stage and 10 %.
final class ProgressReporter: @unchecked Sendable {
    // @unchecked: used from the job's own thread only.
    private let started: ContinuousClock.Instant
    private var last: [SegmentationStage: Int] = [:]

    init(started: ContinuousClock.Instant) { self.started = started }

    func report(_ stage: SegmentationStage, _ fraction: Double) {
        let percent = Int((fraction * 100).rounded(.down))
        if let previous = last[stage], percent < 100, percent - previous < 10 { return }
        last[stage] = percent
        let line = String(
            format: "%@ %3d%% %6.1fs\n", stage.rawValue, percent, (ContinuousClock.now - started).inSeconds)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
