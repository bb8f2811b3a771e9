import ArgumentParser
import Daemon
import Foundation
import Ingest
import Logging
import NIfTI
import Volumes

/// `lcovnet convert`: a folder of DICOM files → one NIfTI volume in HU (dcm2niix's voxel order).
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a folder of DICOM files (subfolders included) to NIfTI in Hounsfield units.",
        discussion: """
            Without --series, the eligible series with the most slices is converted (ties: thinnest \
            spacing). Exit codes: 0 converted or listed, 3 no input, 4 no DICOM file, 5 no eligible \
            series (the line gives the reason code), 6 --series not found, 7 pixel data cannot be \
            decoded, 8 the output cannot be written, 64 bad arguments. Reason codes: docs/INGEST.md.
            """)

    @Argument(help: "A folder of DICOM files (or one DICOM file).")
    var input: String

    @Option(name: .shortAndLong, help: "Output file: .nii, .nii.gz or .nii.zst.")
    var output: String?

    @Option(name: .long, help: "The SeriesInstanceUID (or the id --list prints) to convert.")
    var series: String?

    @Flag(name: .long, help: "List the series found, with their reasons, and convert nothing.")
    var list = false

    @Option(name: .long, help: "Missing slices: reject, or repair (interpolate).")
    var missingSlices: IngestPolicy.Choice = .reject

    @Option(name: .long, help: "Unequal slice spacing: reject, or repair (resample).")
    var nonuniformSpacing: IngestPolicy.Choice = .reject

    @Option(name: .long, help: "Gantry tilt: repair (shift slices onto an orthogonal grid), or reject.")
    var gantryTilt: IngestPolicy.Choice = .repair

    @Option(name: .long, help: "A damaged DICOM file in the folder: reject (the folder), or repair (leave it out).")
    var damagedFiles: IngestPolicy.Choice = .reject

    @Flag(name: .long, help: "Accept every grayscale modality, not only CT.")
    var anyModality = false

    @Flag(name: .long, help: "Log each stage with its duration.")
    var verbose = false

    func validate() throws {
        if !list {
            guard let output else { throw ValidationError("Give the output file with -o <file.nii|.nii.gz|.nii.zst>.") }
            guard NIfTIFormat(path: output) != nil else {
                throw ValidationError("The output name must end in .nii, .nii.gz or .nii.zst: \(output)")
            }
        }
    }

    func run() throws {
        do {
            try convert()
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("lcovnet convert: \(failure.line)\n".utf8))
            throw ExitCode(failure.exitCode)
        }
    }

    private func convert() throws {
        var policy = IngestPolicy()
        policy.missingSlices = missingSlices
        policy.nonUniformSpacing = nonuniformSpacing
        policy.gantryTilt = gantryTilt
        policy.damagedFiles = damagedFiles
        if anyModality { policy.modalities = nil }
        var logger = Logger(label: "lcovnet.convert")
        if verbose { logger.logLevel = .debug }
        do {
            let scan = try DicomFolder.scan(input, policy: policy, logger: logger)
            if list {
                print(SeriesListing(scan).text, terminator: "")
                return
            }
            let candidate = try scan.select(id: series)
            let loaded = try DicomFolder.load(candidate, policy: policy, logger: logger)
            do {
                let start = ContinuousClock.now
                try NIfTIFile.write(loaded.volume, to: output!)
                logger.debug(
                    "wrote NIfTI", metadata: ["duration_ms": "\((ContinuousClock.now - start).inMilliseconds)"])
            } catch {
                throw CommandFailure(line: "\(error)", exitCode: ExitStatus.outputNotWritable)
            }
            let g = loaded.volume.geometry
            let others = scan.candidates.count - 1
            print(
                "converted series \(loaded.id.escapingControlCharacters) (\(loaded.sourceSliceCount) files/frames, \(g.size), "
                    + String(format: "%.3f×%.3f×%.3f mm", g.spacing.x, g.spacing.y, g.spacing.z)
                    + ", \(g.orientationCode)) to \(output!)"
                    + (others > 0 ? "; \(others) other eligible series (see --list)" : ""))
            for note in loaded.notes {
                FileHandle.standardError.write(
                    Data("note: \(String(describing: note).escapingControlCharacters)\n".utf8))
            }
            // Files left out on their own (not DICOM, other modalities...): one line per reason.
            for (code, notes) in Dictionary(grouping: scan.fileNotes, by: \.code).sorted(by: {
                $0.key.rawValue < $1.key.rawValue
            }) {
                FileHandle.standardError.write(
                    Data("note: \(notes.count) file(s) left out [\(code.rawValue)]: \(code.sentence)\n".utf8))
            }
        } catch let error as IngestError {
            throw CommandFailure(line: error.description, exitCode: ExitStatus.ingest(error.code))
        }
    }
}

/// A failure the command reports in one line on stderr before exiting with its code.
struct CommandFailure: Error, CustomStringConvertible {
    var line: String
    var exitCode: Int32
    var description: String { line }
}

/// The text `convert --list` prints.
struct SeriesListing {
    var text = ""

    init(_ scan: DicomScan) {
        text += "\(scan.fileCount) files in \(scan.root.escapingControlCharacters)\n"
        for (index, c) in scan.candidates.enumerated() {
            let g = c.geometry
            text +=
                "\(index == 0 ? "*" : " ") \(c.id.escapingControlCharacters)  \(c.modality.escapingControlCharacters)  series \(c.seriesNumber.map(String.init) ?? "-")  "
                + "\(c.slices.count) frames → \(g.size)  "
                + String(format: "%.3f×%.3f×%.3f mm", g.spacing.x, g.spacing.y, g.spacing.z)
                + "  \(g.orientationCode)"
                + (c.seriesDescription.isEmpty ? "" : "  \"\(c.seriesDescription.escapingControlCharacters)\"") + "\n"
            for note in c.notes { text += "      \(String(describing: note).escapingControlCharacters)\n" }
        }
        if let rejection = scan.folderRejection {
            text += "  folder rejected: \(String(describing: rejection).escapingControlCharacters)\n"
        }
        for r in scan.rejectedSeries {
            text +=
                "  rejected \(r.id.escapingControlCharacters) (\(r.fileCount) files): \(String(describing: r.reason).escapingControlCharacters)\n"
        }
        let byCode = Dictionary(grouping: scan.fileNotes, by: \.code)
        for code in byCode.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let notes = byCode[code]!
            text +=
                "  \(notes.count) file(s) left out [\(code.rawValue)]: \(code.sentence)"
                + (notes.count == 1 ? " \((notes[0].path ?? "").escapingControlCharacters)" : "") + "\n"
        }
    }
}

extension IngestPolicy.Choice: ExpressibleByArgument {}
