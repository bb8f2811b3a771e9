import Foundation
import Ingest
import NIfTI
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// `convert` against dcm2niix, the converter the imaging world trusts: identical voxels after
/// nibabel's scaling and the affine within 1e-3 mm, for every writer variant dcm2niix reads.
/// Where dcm2niix cannot read the input or is wrong, the test compares with the known volume and
/// says so.
@Suite(.enabled(if: IngestFixtures.hasDcm2niix, "needs dcm2niix, nibabel and numpy"))
struct Dcm2niixComparisonTests {
    struct Variant: CustomTestStringConvertible, Sendable {
        var name: String
        var oblique = false
        var configure: @Sendable (inout DicomWriterOptions) -> Void = { _ in }
        /// dcm2niix's file that holds the volume.
        var referenceFile = "ref.nii"
        var testDescription: String { name }
    }

    static let variants: [Variant] = [
        Variant(name: "explicit little endian"),
        Variant(name: "implicit little endian") { $0.transferSyntax = .implicitLittleEndian },
        Variant(name: "explicit big endian") { $0.transferSyntax = .explicitBigEndian },
        Variant(name: "RLE") { $0.transferSyntax = .rle },
        Variant(name: "JPEG lossless") { $0.transferSyntax = .jpegLossless },
        Variant(name: "JPEG 2000 lossless") { $0.transferSyntax = .jpeg2000Lossless },
        Variant(name: "shuffled names, reversed instance numbers") {
            $0.shuffledFileNames = true
            $0.reversedInstanceNumbers = true
        },
        Variant(name: "oblique", oblique: true),
        // dcm2niix cannot read compressed multi-frame objects ("stored as 21 fragments"): native here,
        // compressed against the known volume below.
        Variant(name: "enhanced multi-frame") { $0.enhancedMultiFrame = true },
        Variant(name: "duplicate slices") { $0.duplicatedSlices = [2, 11] },
        // dcm2niix writes the localizer to its own file (refa.nii); ref.nii is the volume.
        Variant(name: "localizer in the series") { $0.addLocalizer = true },
        Variant(name: "empty dataset UIDs") { $0.emptyDatasetUIDs = true },
        Variant(name: "signed 16-bit") { $0.signedPixels = true }
    ]

    @Test(arguments: variants)
    func convertMatchesDcm2niix(_ variant: Variant) throws {
        let directory = try TemporaryDirectory("vs-dcm2niix")
        var options = DicomWriterOptions()
        variant.configure(&options)
        let volume = variant.oblique ? IngestFixtures.obliqueVolume() : IngestFixtures.volume()
        try DicomSeriesWriter(options).write(volume, to: directory.file("dicom"))
        let ours = directory.file("ours.nii")
        try IngestFixtures.convert(directory.file("dicom"), to: ours)
        let references = try IngestFixtures.dcm2niix(directory.file("dicom"), into: directory.file("dcm2niix"))
        let reference = try #require(references[variant.referenceFile], "dcm2niix wrote \(references.keys.sorted())")
        let c = try IngestFixtures.compare(ours, reference)
        #expect(c.sameShape)
        #expect(c.maxDifference == 0)
        #expect(c.affineDifference < 1e-3)
    }

    @Test func aSecondSeriesInTheFolderDoesNotDisturbThePreferredOne() throws {
        let directory = try TemporaryDirectory("second-series")
        var a = DicomWriterOptions()
        var b = DicomWriterOptions(transferSyntax: .jpegLossless)
        a.seriesNumber = 1
        b.seriesNumber = 2
        try DicomSeriesWriter(a).write(IngestFixtures.volume(), to: directory.file("dicom"))
        try DicomSeriesWriter(b).write(
            IngestFixtures.volume(size: Extent3(64, 48, 8), spacing: [0.8, 0.7, 5]),
            to: directory.file("dicom"))
        try IngestFixtures.convert(directory.file("dicom"), to: directory.file("ours.nii"))
        // dcm2niix writes one file per series; -f %s names them by series number.
        _ = try ReferenceTools.run("dcm2niix", ["-f", "%s", "-z", "n", "-o", directory.path, directory.file("dicom")])
        let c = try IngestFixtures.compare(directory.file("ours.nii"), directory.file("1.nii"))
        #expect(c.sameShape && c.maxDifference == 0 && c.affineDifference < 1e-3)
    }

    /// dcm2niix's `_Tilt` file is the reference for gantry tilt: same grid (grown by the rows the
    /// shear spans) and affine; dcm2niix interpolates in float32, so voxels may differ by 1 HU
    /// where the interpolated value lies within float rounding of a half. (Its main file ignores
    /// the shear: wrong, so it is not compared.)
    @Test func gantryTiltMatchesDcm2niixTiltFile() throws {
        let directory = try TemporaryDirectory("tilt")
        var options = DicomWriterOptions()
        options.gantryTiltDegrees = 15
        try DicomSeriesWriter(options).write(IngestFixtures.volume(), to: directory.file("dicom"))
        try IngestFixtures.convert(directory.file("dicom"), to: directory.file("ours.nii"))
        let references = try IngestFixtures.dcm2niix(directory.file("dicom"), into: directory.file("dcm2niix"))
        let reference = try #require(references["ref_Tilt_1.nii"], "dcm2niix wrote \(references.keys.sorted())")
        let c = try IngestFixtures.compare(directory.file("ours.nii"), reference)
        #expect(c.sameShape)
        #expect(c.affineDifference < 1e-3)
        #expect(c.maxDifference <= 1)
        #expect(c.differing < 64 * 66 * 20 / 50, "more than 2 % of voxels differ: \(c.differing)")
    }

    /// Debian's dcm2niix cannot read deflated or JPEG-LS files, nor compressed multi-frame
    /// objects; the known volume is the reference.
    @Test(arguments: [
        (DicomTransferSyntax.deflated, false), (.jpegLS, false), (.jpeg2000Lossless, true), (.jpegLS, true)
    ])
    func inputsDcm2niixCannotReadMatchTheKnownVolume(_ syntax: DicomTransferSyntax, enhanced: Bool) throws {
        let directory = try TemporaryDirectory("known")
        let volume = IngestFixtures.volume()
        var options = DicomWriterOptions(transferSyntax: syntax)
        options.enhancedMultiFrame = enhanced
        try DicomSeriesWriter(options).write(volume, to: directory.file("dicom"))
        try IngestFixtures.convert(directory.file("dicom"), to: directory.file("ours.nii"))
        try NIfTIFile.write(volume, to: directory.file("known.nii"))
        let c = try IngestFixtures.compare(directory.file("ours.nii"), directory.file("known.nii"))
        #expect(c.sameShape && c.maxDifference == 0 && c.affineDifference < 1e-6)
    }

    /// With a missing slice dcm2niix writes a wrong uniform affine and an `_Eq` file one slice
    /// short; with `--missing-slices repair` ours keeps every slice where it was and fills the gap.
    @Test func missingSliceRepairKeepsTheKnownGrid() throws {
        let directory = try TemporaryDirectory("gap")
        let volume = IngestFixtures.volume()
        var options = DicomWriterOptions()
        options.omittedSlices = [5]
        try DicomSeriesWriter(options).write(volume, to: directory.file("dicom"))
        var policy = IngestPolicy()
        policy.missingSlices = .repair
        try IngestFixtures.convert(directory.file("dicom"), to: directory.file("ours.nii"), policy: policy)
        try NIfTIFile.write(volume, to: directory.file("known.nii"))
        let c = try IngestFixtures.compare(directory.file("ours.nii"), directory.file("known.nii"))
        #expect(c.sameShape && c.affineDifference < 1e-6)
        #expect(c.differing <= 64 * 48, "only the filled slice may differ")
        let references = try IngestFixtures.dcm2niix(directory.file("dicom"), into: directory.file("dcm2niix"))
        if let eq = references.first(where: { $0.key.contains("_Eq") })?.value {
            let d = try IngestFixtures.compare(eq, directory.file("known.nii"))
            #expect(!d.sameShape, "dcm2niix's _Eq file now has every slice: compare with it instead")
        }
    }
}
