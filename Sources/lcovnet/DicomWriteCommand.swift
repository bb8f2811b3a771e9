import ArgumentParser
import Foundation
import Ingest
import NIfTI
import PhantomDicom

/// `lcovnet dicom-write`: a NIfTI volume in HU → a CT series, with optional quirks of real exports.
struct DicomWriteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dicom-write",
        abstract: "Write a NIfTI volume (HU) as a DICOM CT series, optionally with the quirks of real exports.",
        discussion: "The inverse of convert: converting the written folder gives back the same voxels and affine.")

    @Argument(help: "Input .nii, .nii.gz or .nii.zst (int16 HU, or scaled to HU).")
    var input: String
    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String
    @Option(
        name: .long, help: "Transfer syntax: \(DicomTransferSyntax.allCases.map(\.rawValue).joined(separator: ", ")).")
    var syntax: DicomTransferSyntax = .explicitLittleEndian
    @Option(name: .long, help: "Series number (file names start with S<number>).")
    var seriesNumber = 1
    @Flag(name: .long, help: "Write one enhanced CT multi-frame object.")
    var enhanced = false
    @Flag(name: .long, help: "Random file names.")
    var shuffle = false
    @Flag(name: .long, help: "InstanceNumber from the last slice to the first.")
    var reverseInstanceNumbers = false
    @Option(name: .long, help: "Gantry tilt in degrees.")
    var tilt: Double?
    @Option(name: .long, help: "Leave out slice k (repeatable).")
    var omit: [Int] = []
    @Option(name: .long, help: "Write slice k twice (repeatable).")
    var duplicate: [Int] = []
    @Flag(name: .long, help: "Add a localizer image to the series.")
    var localizer = false
    @Flag(name: .long, help: "Leave SeriesInstanceUID and SOPInstanceUID empty in the datasets.")
    var emptyUids = false

    func run() throws {
        let volume = try NIfTIFile.readHounsfield(input)
        var options = DicomWriterOptions(transferSyntax: syntax)
        options.seriesNumber = seriesNumber
        options.enhancedMultiFrame = enhanced
        options.shuffledFileNames = shuffle
        options.reversedInstanceNumbers = reverseInstanceNumbers
        options.gantryTiltDegrees = tilt
        options.omittedSlices = Set(omit)
        options.duplicatedSlices = Set(duplicate)
        options.addLocalizer = localizer
        options.emptyDatasetUIDs = emptyUids
        let result = try DicomSeriesWriter(options).write(volume, to: output)
        print("wrote series \(result.seriesInstanceUID): \(result.files.count) files (\(syntax.rawValue)) to \(output)")
    }
}

extension DicomTransferSyntax: ExpressibleByArgument {}
