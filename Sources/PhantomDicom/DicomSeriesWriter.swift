internal import CDicom
import Foundation
import Ingest
import Logging
import Volumes

/// Writes a `Volume<Int16>` in HU as a CT series (one file per slice, or one enhanced CT object),
/// the exact inverse of `DicomFolder`'s reading: a volume written then read gives back the same
/// voxels and geometry.
///
/// NIfTI (i, j, k) = DICOM (column, Rows−1−row, slice): the volume's i axis is the DICOM row
/// direction, −j the column direction, and k must run along their cross product
/// (the geometry's direction has a negative determinant, as dcm2niix's LAS output does).
public struct DicomSeriesWriter: Sendable {
    public var options: DicomWriterOptions

    public init(_ options: DicomWriterOptions = DicomWriterOptions()) {
        self.options = options
    }

    /// What was written.
    public struct Result: Sendable {
        public var seriesInstanceUID: String
        public var files: [String]
    }

    @discardableResult
    public func write(_ volume: Volume<Int16>, to directory: String, logger: Logger = Logger(label: "lcovnet.ingest"))
        throws -> Result
    {
        let g = volume.geometry
        let row = g.direction[0]
        let column = -g.direction[1]
        let normal = g.direction[2]
        guard dot(cross(row, column), normal) > 0.999 else {
            throw IngestError(
                .missingGeometry, path: directory,
                detail: "the volume's k axis must run along i × (−j), as in dcm2niix's output")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let seriesUID = options.seriesInstanceUID ?? DicomUID.make()
        let identity = Identity(
            study: options.studyInstanceUID ?? DicomUID.make(), series: seriesUID,
            frameOfReference: options.frameOfReferenceUID ?? DicomUID.make())
        let encoding = PixelEncoding(volume.voxels, signed: options.signedPixels)
        var imageColumn = column
        if let tilt = options.gantryTiltDegrees {
            let angle = tilt * .pi / 180
            imageColumn = cos(angle) * column - sin(angle) * normal
        }
        let orientation = [row.x, row.y, row.z, imageColumn.x, imageColumn.y, imageColumn.z]
        let rows = g.size.j
        let columns = g.size.i
        let kept = (0..<g.size.k).filter { !options.omittedSlices.contains($0) }
        let positions = kept.map { k in g.point(atIndex: SIMD3(0, Double(rows - 1), Double(k))) }

        var images: [Image] = []
        if options.enhancedMultiFrame {
            var pixels = [UInt16]()
            pixels.reserveCapacity(kept.count * rows * columns)
            for k in kept { pixels += encoding.slice(volume, k: k) }
            images.append(
                Image(
                    pixels: pixels, positions: positions, instanceNumber: 1, frames: kept.count,
                    sopInstanceUID: DicomUID.make(), imageType: "ORIGINAL\\PRIMARY\\AXIAL",
                    rows: rows, columns: columns, orientation: orientation,
                    spacing: [g.spacing.y, g.spacing.x], sliceIndex: nil, thickness: g.spacing.z))
        } else {
            for (index, k) in kept.enumerated() {
                let instance = options.reversedInstanceNumbers ? kept.count - index : index + 1
                images.append(
                    Image(
                        pixels: encoding.slice(volume, k: k), positions: [positions[index]],
                        instanceNumber: instance, frames: 1, sopInstanceUID: DicomUID.make(),
                        imageType: "ORIGINAL\\PRIMARY\\AXIAL", rows: rows, columns: columns,
                        orientation: orientation, spacing: [g.spacing.y, g.spacing.x], sliceIndex: k,
                        thickness: g.spacing.z))
            }
            images += images.filter { $0.sliceIndex.map(options.duplicatedSlices.contains) ?? false }
        }
        if options.addLocalizer {
            images.append(localizer(volume, encoding: encoding, instanceNumber: images.count + 1))
        }

        let names = fileNames(count: images.count)
        let paths = names.map { "\(directory)/\($0)" }
        let slices = images
        let writeOne: @Sendable (Int) throws -> Void = { [options] index in
            try Self.writeFile(
                slices[index], to: paths[index], identity: identity, encoding: encoding, options: options)
        }
        try Parallel.forEach(images.count, threads: 2, writeOne)
        logger.debug(
            "wrote DICOM series",
            metadata: [
                "series.uid": "\(seriesUID)", "files": "\(paths.count)",
                "transfer_syntax": "\(options.transferSyntax.rawValue)"
            ])
        return Result(seriesInstanceUID: seriesUID, files: paths)
    }

    // MARK: Pieces

    struct Identity: Sendable {
        var study: String
        var series: String
        var frameOfReference: String
    }

    struct Image: Sendable {
        var pixels: [UInt16]
        var positions: [SIMD3<Double>]
        var instanceNumber: Int
        var frames: Int
        var sopInstanceUID: String
        var imageType: String
        var rows: Int
        var columns: Int
        var orientation: [Double]
        var spacing: [Double]
        var sliceIndex: Int?
        var thickness: Double
    }

    /// How HU values become stored values.
    struct PixelEncoding: Sendable {
        var bitsStored: Int
        var signed: Bool
        var intercept: Double

        init(_ voxels: [Int16], signed: Bool) {
            let (low, high) = voxels.reduce((Int16.max, Int16.min)) { (min($0.0, $1), max($0.1, $1)) }
            if signed {
                self.bitsStored = 16
                self.signed = true
                intercept = 0
            } else if low >= -1024 && high <= 3071 {
                self.bitsStored = 12
                self.signed = false
                intercept = -1024
            } else {
                self.bitsStored = 16
                self.signed = false
                intercept = -32768
            }
        }

        func stored(_ hu: Int16) -> UInt16 {
            signed ? UInt16(bitPattern: hu) : UInt16(Int(hu) - Int(intercept))
        }

        /// Slice k in DICOM row order (row 0 = j = size.j − 1).
        func slice(_ volume: Volume<Int16>, k: Int) -> [UInt16] {
            let s = volume.size
            var pixels = [UInt16](repeating: 0, count: s.i * s.j)
            for row in 0..<s.j {
                let source = volume.offset(0, s.j - 1 - row, k)
                for c in 0..<s.i { pixels[row * s.i + c] = stored(volume.voxels[source + c]) }
            }
            return pixels
        }
    }

    /// A coronal localizer through the middle of the volume: rows run from head to feet.
    private func localizer(_ volume: Volume<Int16>, encoding: PixelEncoding, instanceNumber: Int) -> Image {
        let g = volume.geometry
        let s = g.size
        let j = s.j / 2
        var pixels = [UInt16](repeating: 0, count: s.i * s.k)
        for row in 0..<s.k {
            for c in 0..<s.i { pixels[row * s.i + c] = encoding.stored(volume[c, j, s.k - 1 - row]) }
        }
        let row = g.direction[0]
        let down = -g.direction[2]
        let position = g.point(atIndex: SIMD3(0, Double(j), Double(s.k - 1)))
        return Image(
            pixels: pixels, positions: [position], instanceNumber: instanceNumber, frames: 1,
            sopInstanceUID: DicomUID.make(), imageType: "ORIGINAL\\PRIMARY\\LOCALIZER", rows: s.k, columns: s.i,
            orientation: [row.x, row.y, row.z, down.x, down.y, down.z],
            spacing: [g.spacing.z, g.spacing.x], sliceIndex: nil, thickness: g.spacing.y)
    }

    private func fileNames(count: Int) -> [String] {
        let prefix = "S\(options.seriesNumber)"
        guard options.shuffledFileNames else {
            return (0..<count).map { String(format: "%@-%05d.dcm", prefix, $0 + 1) }
        }
        var generator = SplitMix64(seed: options.seed)
        let order = Array(0..<count).shuffled(using: &generator)
        return order.map { String(format: "%@-X%05d", prefix, $0 * 7919 % 99991) }
    }

    private static func writeFile(
        _ image: Image, to path: String, identity: Identity, encoding: PixelEncoding,
        options: DicomWriterOptions
    ) throws {
        let enhanced = image.frames > 1 || options.enhancedMultiFrame
        let sopClass = enhanced ? "1.2.840.10008.5.1.4.1.1.2.1" : "1.2.840.10008.5.1.4.1.1.2"
        let strings = CStrings()
        var slice = cdicom_slice()
        slice.transfer_syntax = options.transferSyntax.shimCode
        slice.sop_class_uid = strings[sopClass]
        slice.sop_instance_uid = strings[options.emptyDatasetUIDs ? "" : image.sopInstanceUID]
        slice.media_sop_instance_uid = strings[image.sopInstanceUID]
        slice.study_instance_uid = strings[identity.study]
        slice.series_instance_uid = strings[options.emptyDatasetUIDs ? "" : identity.series]
        slice.frame_of_reference_uid = strings[identity.frameOfReference]
        slice.modality = strings[options.modality]
        slice.image_type = strings[image.imageType]
        slice.patient_name = strings[options.patientName]
        slice.patient_id = strings[options.patientID]
        slice.series_description = strings[options.seriesDescription]
        slice.series_number = Int32(options.seriesNumber)
        slice.instance_number = Int32(image.instanceNumber)
        slice.rows = Int32(image.rows)
        slice.columns = Int32(image.columns)
        slice.bits_stored = Int32(encoding.bitsStored)
        slice.pixel_representation = encoding.signed ? 1 : 0
        slice.rescale_slope = 1
        slice.rescale_intercept = encoding.intercept
        slice.pixel_spacing = (image.spacing[0], image.spacing[1])
        slice.slice_thickness = image.thickness
        let o = image.orientation
        slice.orientation = (o[0], o[1], o[2], o[3], o[4], o[5])
        if let tilt = options.gantryTiltDegrees {
            slice.has_gantry_tilt = 1
            slice.gantry_tilt = tilt
        }
        slice.frame_count = Int32(image.frames)
        let positions = image.positions.flatMap { [$0.x, $0.y, $0.z] }
        var message = [CChar](repeating: 0, count: 512)
        let status = positions.withUnsafeBufferPointer { p in
            image.pixels.withUnsafeBufferPointer { pixels in
                slice.positions = p.baseAddress
                slice.pixels = pixels.baseAddress
                return cdicom_write(path, &slice, &message, message.count)
            }
        }
        guard status == 0 else {
            throw IngestError(
                .unreadable, path: path,
                detail: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}

/// C copies of Swift strings that live as long as this object.
private final class CStrings {
    private var pointers: [UnsafeMutablePointer<CChar>] = []
    subscript(_ value: String) -> UnsafePointer<CChar> {
        let copy = strdup(value)!
        pointers.append(copy)
        return UnsafePointer(copy)
    }
    deinit { pointers.forEach { free($0) } }
}

extension DicomTransferSyntax {
    /// The code the CDicom shim's writer takes.
    fileprivate var shimCode: Int32 {
        switch self {
        case .implicitLittleEndian: Int32(CDICOM_TS_IMPLICIT_LITTLE.rawValue)
        case .explicitLittleEndian: Int32(CDICOM_TS_EXPLICIT_LITTLE.rawValue)
        case .explicitBigEndian: Int32(CDICOM_TS_EXPLICIT_BIG.rawValue)
        case .deflated: Int32(CDICOM_TS_DEFLATED.rawValue)
        case .rle: Int32(CDICOM_TS_RLE.rawValue)
        case .jpegLossless: Int32(CDICOM_TS_JPEG_LOSSLESS_SV1.rawValue)
        case .jpegLS: Int32(CDICOM_TS_JPEG_LS_LOSSLESS.rawValue)
        case .jpeg2000Lossless: Int32(CDICOM_TS_JPEG2000_LOSSLESS.rawValue)
        }
    }
}
