import ArgumentParser
import Foundation
import NIfTI
import Phantom
import Synthesis

/// `lcovnet synthesize`: one CT synthesized on a real label map, as training sees it.
struct SynthesizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthesize",
        abstract: "Synthesize an abdominal CT on a real label map (WORD), with its 16 organ labels.",
        discussion: """
            Writes DIR/image.nii.gz (HU), DIR/labels.nii.gz on the same grid and DIR/synthesis.json (the drawn \
            parameters). Seeds below 1000 use the training maps of --anatomies, seeds from 1000 on the held-out \
            maps (every sixth map in name order). The same maps, seed and options give the same scan.
            """)

    @Option(name: .shortAndLong, help: "Output folder.") var output: String
    @Option(help: "Folder of WORD label maps (e.g. WORD_V0.1.0_labelsTs unpacked).") var anatomies: String
    @Option(help: "Seed: one seed is one scan.") var seed: UInt64 = 1
    @Option(help: "Contrast phase: native, arterial, portal-venous or delayed (drawn when omitted).") var phase: ContrastPhase?
    @Option(help: "Threads.") var threads: Int = 1

    func run() throws {
        let maps = try AnatomyMaps(folder: anatomies)
        let name = maps.name(forSeed: seed)
        let start = Date()
        let scan = try CTSynthesizer.synthesize(try maps.load(name), anatomy: name, seed: seed, phase: phase, threads: threads)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try NIfTIFile.write(scan.image, to: "\(output)/image.nii.gz", description: "lcovnet synthesized CT")
        try NIfTIFile.write(scan.labels, to: "\(output)/labels.nii.gz", description: "lcovnet synthesized CT labels")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(scan.parameters).write(to: URL(fileURLWithPath: "\(output)/synthesis.json"))
        let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
        print("synthesized seed \(seed) on \(name): \(scan.image.size) voxels at \(scan.image.geometry.spacing) mm, "
              + "\(scan.parameters.phase.rawValue), \(scan.parameters.fieldOfView.rawValue), \(seconds) s → \(output)")
    }
}
