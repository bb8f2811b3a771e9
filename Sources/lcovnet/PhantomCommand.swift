import ArgumentParser
import Foundation
import Ingest
import NIfTI
import Phantom
import PhantomDicom

struct PhantomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Generate a synthetic abdominal CT with its 16 WORD organ labels.",
        discussion: """
            --format nifti writes DIR/image.nii.gz; --format dicom writes a CT series under DIR/dicom/ \
            (one file per slice, explicit little endian unless --transfer-syntax says otherwise). Both write \
            DIR/labels.nii.gz on the scan's grid and DIR/phantom.json (the drawn parameters). The same seed \
            and options always give the same phantom.
            """)

    @Option(name: .shortAndLong, help: "Output folder.") var output: String
    @Option(help: "Seed: one seed is one patient.") var seed: UInt64 = 1
    @Option(help: "Output format: nifti or dicom.") var format: String = "nifti"
    @Option(
        help:
            "Transfer syntax of a DICOM phantom (\(DicomTransferSyntax.allCases.map(\.rawValue).joined(separator: ", ")))."
    )
    var transferSyntax: DicomTransferSyntax = .explicitLittleEndian
    @Option(help: "In-plane matrix size.") var matrix: Int = 256
    @Option(help: "Slice spacing in mm (drawn from the seed when omitted).") var sliceSpacing: Double?
    @Option(help: "Contrast phase: native, arterial, portal-venous or delayed (drawn when omitted).") var phase:
        ContrastPhase?
    @Option(help: "Noise standard deviation in HU (drawn when omitted).") var noise: Double?
    @Option(help: "Body size relative to an average adult (drawn when omitted).") var habitus: Double?

    func validate() throws {
        guard ["nifti", "dicom"].contains(format) else { throw ValidationError("--format must be nifti or dicom") }
        guard (32...1024).contains(matrix) else { throw ValidationError("--matrix must be between 32 and 1024") }
        if let sliceSpacing, !(0.5...10).contains(sliceSpacing) {
            throw ValidationError("--slice-spacing must be between 0.5 and 10 mm")
        }
    }

    func run() throws {
        let options = PhantomOptions(
            seed: seed, matrix: matrix, sliceSpacing: sliceSpacing, phase: phase,
            noiseSigma: noise, habitus: habitus)
        let phantom = PhantomGenerator.generate(options)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        if format == "dicom" {
            var options = DicomWriterOptions(transferSyntax: transferSyntax)
            options.seriesDescription = "lcovnet phantom seed \(seed)"
            try DicomSeriesWriter(options).write(phantom.image, to: "\(output)/dicom")
        } else {
            try NIfTIFile.write(phantom.image, to: "\(output)/image.nii.gz", description: "lcovnet phantom")
        }
        try NIfTIFile.write(phantom.labels, to: "\(output)/labels.nii.gz", description: "lcovnet phantom labels")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(phantom.parameters).write(to: URL(fileURLWithPath: "\(output)/phantom.json"))
        print(
            "phantom seed \(seed): \(phantom.image.size) voxels at \(phantom.image.geometry.spacing) mm, \(phantom.parameters.phase.rawValue) phase → \(output)"
        )
    }
}

extension ContrastPhase: ExpressibleByArgument {}
