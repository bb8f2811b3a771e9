import ArgumentParser
import Datasets
import Evaluation
import Foundation
import Inference
import Logging
import Phantom
import Segmentation
import Synthesis

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Dice of a model on held-out phantoms or synthesized CT, through the same path as `lcovnet segment`.",
        discussion: """
            Generates each phantom (or, with --anatomies, a CT synthesized on one of the held-out real \
            label maps, as `lcovnet synthesize` makes it for seeds from 1000 on), segments it (preparation, sliding windows, the engine, labels \\
            mapped back onto the scan's grid) and scores the labels against the phantom's own, per \\
            organ. With `--precision int8,fp32` both run and the second is also scored against the \\
            first (int8-vs-fp32 agreement), on the window the first chose within the budget, so that \
            the two runs are tiled alike. The phantom knobs shift the population (domain shift). \\
            Prints one line per phantom and a table; --report writes everything as JSON.
            """)

    @Option(help: "Model folder (default: the embedded default model).") var model: String?
    @Option(help: "Phantom seeds, as FIRST-LAST (seeds ≥ 1000 are never used in training).") var seeds: String =
        "1001-1010"
    @Option(
        help:
            "Folder of WORD label maps: score on CT synthesized on its held-out maps instead of phantoms (seeds from 1000 on)."
    )
    var anatomies: String?
    @Option(
        help:
            "A labelled dataset to score on instead: nnU-Net raw or MSD (dataset.json), WORD's imagesTr/labelsTr folders, or a CSV of image,label paths."
    )
    var dataset: String?
    @Option(
        help:
            "With --dataset: btcv, amos, flare22, word, or a JSON file mapping the dataset's label values to organ names or ids, e.g. {\"1\": \"spleen\"} (default: dataset.json's names, else WORD's ids). Values left out are not scored."
    )
    var labelMap: String?
    @Option(help: "With --dataset: tolerance of the normalized surface Dice, in mm.") var nsdTolerance: Double = 1
    @Option(
        help: "With --dataset: all cases, or the validation or training part of `train --dataset`'s split by case id.")
    var split: String = "all"
    @Option(help: "With --split: the share held out, as given to `train --validation-fraction`.")
    var validationFraction: Double = LabelledDataset.defaultValidationFraction
    @Option(help: "Precisions to run, comma-separated: int8, fp32 or int8,fp32 (default: the model's own).")
    var precision: String?
    @Option(help: "In-plane matrix of the phantoms.") var matrix: Int = 256
    @Option(help: "Slice spacing in mm (drawn per seed when omitted).") var sliceSpacing: Double?
    @Option(help: "Contrast phase (drawn per seed when omitted).") var phase: ContrastPhase?
    @Option(help: "Noise standard deviation in HU (drawn per seed when omitted).") var noise: Double?
    @Option(help: "Body size relative to an average adult (drawn per seed when omitted).") var habitus: Double?
    @Option(help: "Overlap of neighbouring windows, as a fraction of the window.") var overlap: Double =
        SegmentationOptions().overlap
    @Option(help: "Memory budget in MiB (decides the window, as in `segment`).") var memoryBudget: Int =
        SegmentationOptions().memoryBudgetMiB
    @Option(help: "Write the whole evaluation as JSON here.") var report: String?
    @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        guard let modelPath = model ?? ShippedModels.defaultModel() else {
            FileHandle.standardError.write(
                Data("lcovnet evaluate: no default model found (Models/default is missing)\n".utf8))
            throw ExitCode(ExitStatus.modelNotUsable)
        }
        let directory = try ModelDirectory(path: modelPath)
        let precisions =
            try precision.map { text in
                try text.split(separator: ",").map { part in
                    guard let p = Precision(rawValue: String(part)) else {
                        throw ValidationError("--precision \(text): expected int8, fp32 or int8,fp32")
                    }
                    return p
                }
            } ?? [directory.manifest.precision]
        guard (1...2).contains(precisions.count) else { throw ValidationError("--precision: one or two precisions") }
        let seedList = try TrainingOptions.range(seeds)
        let options = SegmentationOptions(threads: threads, memoryBudgetMiB: memoryBudget, overlap: overlap)
        let logger = Logger(label: "lcovnet.evaluate")
        if let dataset {
            var single = options
            single.precision = precisions[0]
            try evaluateDataset(dataset, model: directory, options: single, logger: logger)
            return
        }
        let evaluation: PhantomEvaluation
        if let anatomies {
            guard seedList.allSatisfy({ $0 >= 1000 }) else {
                throw ValidationError("--anatomies: seeds below 1000 are built on training maps")
            }
            let maps = try AnatomyMaps(folder: anatomies)
            evaluation = try PhantomEvaluation.run(
                model: directory, seeds: seedList, source: anatomies, precisions: precisions,
                options: options, logger: logger, progress: { print($0) }
            ) { seed in
                let name = maps.name(forSeed: seed)
                let scan = try CTSynthesizer.synthesize(
                    try maps.load(name), anatomy: name,
                    SynthesisOptions(seed: seed, phase: phase, sliceSpacing: sliceSpacing, noiseSigma: noise),
                    threads: threads)
                return .init(image: scan.image, labels: scan.labels, anatomy: name)
            }
        } else {
            let template = PhantomOptions(
                seed: 0, matrix: matrix, sliceSpacing: sliceSpacing, phase: phase, noiseSigma: noise, habitus: habitus)
            evaluation = try PhantomEvaluation.run(
                model: directory, seeds: seedList, template: template, precisions: precisions,
                options: options, logger: logger
            ) { print($0) }
        }
        let names = directory.manifest.classes.dropFirst().map(\.name)
        let header = precisions.map { $0.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) }.joined(
            separator: " ")
        print("organ                 \(header)")
        for name in names {
            let cells = precisions.map { p in
                evaluation.dicePerOrgan[p.rawValue]?[name].map { String(format: "%-8.3f", $0) } ?? "-       "
            }
            print(name.padding(toLength: 22, withPad: " ", startingAt: 0) + cells.joined(separator: " "))
        }
        print(
            "mean Dice             "
                + precisions.map { String(format: "%-8.3f", evaluation.meanDice[$0.rawValue] ?? 0) }.joined(
                    separator: " "))
        if let mean = evaluation.meanAgreement, let worst = evaluation.minimumAgreement {
            print(
                String(
                    format: "%@ vs %@ agreement (mean Dice over organs): mean %.4f, worst phantom %.4f",
                    precisions[1].rawValue, precisions[0].rawValue, mean, worst))
        }
        if let report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(evaluation).write(to: URL(fileURLWithPath: report), options: .atomic)
        }
    }

    /// `--dataset`: per case and organ Dice, HD95 and NSD, a table of the means, --report as JSON.
    private func evaluateDataset(_ path: String, model: ModelDirectory, options: SegmentationOptions, logger: Logger)
        throws
    {
        let names = try labelMap.map(LabelledDataset.labelMap(named:))
        var data = try LabelledDataset(path: path, classes: model.manifest.classes, labelMap: names)
        if split != "all" {
            guard split == "validation" || split == "training" else {
                throw ValidationError("--split must be all, validation or training")
            }
            data.cases = data.cases(validation: split == "validation", fraction: validationFraction)
            guard !data.cases.isEmpty else {
                throw ValidationError(
                    "\(path): no case falls in the \(split) part at --validation-fraction \(validationFraction)")
            }
        }
        print(
            "\(data.cases.count) cases (\(data.layout) layout\(split == "all" ? "" : ", \(split) split")), \(Set(data.labelMap.values).count) organs labelled"
        )
        let evaluation = try DatasetEvaluation.run(
            model: model, dataset: data, source: path, options: options, nsdToleranceMM: nsdTolerance,
            logger: logger
        ) { print($0) }
        print("organ                 Dice    HD95 mm  NSD \(nsdTolerance) mm")
        for name in evaluation.labelledOrgans {
            let cells = [
                evaluation.dicePerOrgan[name].map { String(format: "%-7.3f", $0) } ?? "-      ",
                evaluation.hd95PerOrgan[name].map { String(format: "%-8.1f", $0) } ?? "-       ",
                evaluation.nsdPerOrgan[name].map { String(format: "%.3f", $0) } ?? "-"
            ]
            print(name.padding(toLength: 22, withPad: " ", startingAt: 0) + cells.joined(separator: " "))
        }
        print(String(format: "mean Dice             %.3f", evaluation.meanDice))
        if let report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(evaluation).write(to: URL(fileURLWithPath: report), options: .atomic)
        }
    }
}
