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
    @Option(help: "Contrast phase: native, arterial, portal-venous or delayed (drawn when omitted).") var phase:
        ContrastPhase?
    @Option(help: "Field of view: upper-abdomen, pelvis or abdomen-pelvis (drawn when omitted).") var fieldOfView:
        FieldOfView?
    @Option(help: "In-plane pixel spacing in mm (drawn from 0.6-1.0 when omitted).") var pixelSpacing: Double?
    @Option(help: "Slice spacing in mm (drawn from 0.625-5 when omitted).") var sliceSpacing: Double?
    @Option(help: "Noise standard deviation in HU (drawn from 4-30, log-uniform, when omitted).") var noise: Double?
    @Option(
        help: "Total hip replacements: left, right, both or none (drawn when omitted; about one scan in ten has them).")
    var hipImplants: HipImplantChoice?
    @Option(help: "Threads.") var threads: Int = 1

    func validate() throws {
        if let pixelSpacing, !(0.3...3).contains(pixelSpacing) {
            throw ValidationError("--pixel-spacing must be between 0.3 and 3 mm")
        }
        if let sliceSpacing, !(0.5...10).contains(sliceSpacing) {
            throw ValidationError("--slice-spacing must be between 0.5 and 10 mm")
        }
        if let noise, !(0...200).contains(noise) { throw ValidationError("--noise must be between 0 and 200 HU") }
    }

    func run() throws {
        let maps = try AnatomyMaps(folder: anatomies)
        let name = maps.name(forSeed: seed)
        let start = Date()
        let options = SynthesisOptions(
            seed: seed, phase: phase, fieldOfView: fieldOfView, pixelSpacing: pixelSpacing,
            sliceSpacing: sliceSpacing, noiseSigma: noise, hipImplants: hipImplants?.sides)
        let scan = try CTSynthesizer.synthesize(try maps.load(name), anatomy: name, options, threads: threads)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try NIfTIFile.write(scan.image, to: "\(output)/image.nii.gz", description: "lcovnet synthesized CT")
        try NIfTIFile.write(scan.labels, to: "\(output)/labels.nii.gz", description: "lcovnet synthesized CT labels")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(scan.parameters).write(to: URL(fileURLWithPath: "\(output)/synthesis.json"))
        let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
        print(
            "synthesized seed \(seed) on \(name): \(scan.image.size) voxels at \(scan.image.geometry.spacing) mm, "
                + "\(scan.parameters.phase.rawValue), \(scan.parameters.fieldOfView.rawValue), \(seconds) s → \(output)"
        )
    }
}

extension FieldOfView: ExpressibleByArgument {}

enum HipImplantChoice: String, ExpressibleByArgument, CaseIterable {
    case left, right, both, none
    var sides: [String] { self == .both ? ["left", "right"] : self == .none ? [] : [rawValue] }
}
