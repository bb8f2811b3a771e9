import CZlib
import Foundation
import Ingest
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// Crafted DICOM headers that once trapped the reader or sized huge allocations: each is now
/// refused with its plausibility code (Volumes.Plausibility, docs/INGEST.md) before anything is
/// allocated from it, and a plausible series beside it still converts.
@Suite struct PlausibilityTests {
    func write(_ volume: Volume<Int16>, _ configure: (inout DicomWriterOptions) -> Void = { _ in }) throws
        -> TemporaryDirectory
    {
        try IngestFixtures.series(volume, "plausibility", configure)
    }

    /// The error reading the folder gives (the test fails when it reads without one).
    func failure(_ folder: String, policy: IngestPolicy = IngestPolicy()) throws -> IngestError {
        do {
            let series = try DicomFolder.loadSeries(in: folder, policy: policy)
            Issue.record("read a \(series.volume.size) volume instead of refusing it")
        } catch {
            return error
        }
        throw IngestError(.noInput, path: folder, detail: "no error")
    }

    static func volume(spacing: SIMD3<Double>, size: Extent3 = Extent3(16, 12, 6)) -> Volume<Int16> {
        IngestFixtures.volume(size: size, spacing: spacing)
    }

    @Test(arguments: [
        (SIMD3<Double>(1e300, 1e300, 2.5), "ImagePositionPatient"),  // the positions grow with the spacing
        (SIMD3<Double>(1e-300, 1e-300, 2.5), "PixelSpacing"),
        (SIMD3<Double>(1e6, 1e6, 2.5), "PixelSpacing"),
        (SIMD3<Double>(40, 40, 2.5), "PixelSpacing")  // a 556 KB series once planned 5 472 windows
    ])
    func implausiblePixelSpacingIsRefused(spacing: SIMD3<Double>, named: String) throws {
        let directory = try write(Self.volume(spacing: spacing))
        let error = try failure(directory.path)
        #expect(error.code == .implausibleGeometry, "\(error)")
        #expect(error.description.contains(named), "\(error)")
    }

    /// Two series whose SeriesInstanceUIDs differ only after character 70 were once cut to 67
    /// characters and merged; now each file is refused, and a 64-character UID still reads.
    @Test func uidsLongerThanDICOMAllowsAreRefusedNotCut() throws {
        let long = "1.2.826.0.1.3680043.10.1234." + String(repeating: "7", count: 50)
        let directory = try write(Self.volume(spacing: [0.8, 0.8, 2.5])) { $0.seriesInstanceUID = long }
        let scan = try DicomFolder.scan(directory.path)
        #expect(scan.candidates.isEmpty)
        #expect(scan.fileNotes.count == 6 && scan.fileNotes.allSatisfy { $0.code == .uidTooLong }, "\(scan.fileNotes)")
        let legal = "1.2.826.0.1.3680043.10.1234." + String(repeating: "7", count: 36)
        #expect(legal.count == 64)
        let fine = try write(Self.volume(spacing: [0.8, 0.8, 2.5])) { $0.seriesInstanceUID = legal }
        #expect(try DicomFolder.loadSeries(in: fine.path).seriesInstanceUID == legal)
    }

    /// Kept from the fuzzer (fuzz/run.sh): a 2 KB file whose PixelData declares 2.7 GB. DCMTK
    /// reserves the declared length before it finds the file short (address space only; the
    /// daemon's worker process bounds it); the file is refused as corrupt, not read.
    @Test func aFuzzedFileWithPixelDataLongerThanTheFileIsRefused() throws {
        let input = ReferenceTools.sourceRoot.appendingPathComponent("fuzz/crashes/pixel-data-longer-than-file.dcm")
            .path
        let dir = try TemporaryDirectory("fuzzed")
        try FileManager.default.copyItem(atPath: input, toPath: dir.file("a.dcm"))
        let scan = try DicomFolder.scan(dir.path)
        #expect(scan.candidates.isEmpty)
        #expect(
            scan.fileNotes.map(\.code) == [.corrupt] || scan.rejectedSeries.count == 1,
            "\(scan.fileNotes) \(scan.rejectedSeries)")
        #expect(throws: IngestError.self) { try DicomFolder.loadSeries(in: dir.path) }
    }

    @Test func slicesAMillionMillimetresApartAreRefused() throws {
        let directory = try write(Self.volume(spacing: [0.8, 0.7, 1e6]))
        let error = try failure(directory.path)
        #expect(error.code == .implausibleGeometry, "\(error)")
        #expect(error.description.contains("slice"), "\(error)")
    }

    @Test func anEnhancedCTWhoseSecondFrameLiesAt1e300IsRefused() throws {
        // One enhanced object: frame 1 at a plausible position, frame 2 a slice step of 1e300 away.
        let directory = try write(Self.volume(spacing: [0.8, 0.7, 1e300], size: Extent3(16, 12, 2))) {
            $0.enhancedMultiFrame = true
        }
        let error = try failure(directory.path)
        #expect(error.code == .implausibleGeometry, "\(error)")
        #expect(error.description.contains("frame 2"), "\(error)")
    }

    @Test func rowsAndColumns65535OverSmallPixelDataAreRefusedBeforeAllocating() throws {
        let directory = try write(Self.volume(spacing: [0.8, 0.7, 2.5], size: Extent3(64, 64, 4)))
        for file in try files(directory) {
            try DicomBytes.patchUInt16(file, group: 0x0028, element: 0x0010, value: 65535)  // Rows
            try DicomBytes.patchUInt16(file, group: 0x0028, element: 0x0011, value: 65535)  // Columns
        }
        let error = try failure(directory.path)
        #expect(error.code == .implausibleSize, "\(error)")
    }

    @Test func plausibleRowsOverTooLittlePixelDataAreRefusedBeforeAllocating() throws {
        let directory = try write(Self.volume(spacing: [0.8, 0.7, 2.5], size: Extent3(64, 64, 4)))
        for file in try files(directory) {
            try DicomBytes.patchUInt16(file, group: 0x0028, element: 0x0010, value: 1024)
            try DicomBytes.patchUInt16(file, group: 0x0028, element: 0x0011, value: 1024)
        }
        let scan = try DicomFolder.scan(directory.path)
        #expect(scan.candidates.isEmpty)
        #expect(scan.fileNotes.map(\.code) == Array(repeating: .decodeFailed, count: 4))
        let error = try failure(directory.path)
        #expect(error.code == .decodeFailed, "\(error)")
        #expect(error.description.contains("need 2097152"), "\(error)")
    }

    @Test func aTiltBeyondThirtyDegreesIsAReasonNotARepair() throws {
        let directory = try write(IngestFixtures.volume(size: Extent3(16, 12, 6))) { $0.gantryTiltDegrees = 45 }
        let error = try failure(directory.path)
        #expect(error.code == .implausibleTilt, "\(error)")
        // The same angle is refused whatever the tilt policy says.
        var policy = IngestPolicy()
        policy.gantryTilt = .reject
        #expect(try failure(directory.path, policy: policy).code == .implausibleTilt)
        // A plausible tilt is still repaired.
        let tilted = try write(IngestFixtures.volume(size: Extent3(16, 12, 6))) { $0.gantryTiltDegrees = 20 }
        #expect(try DicomFolder.loadSeries(in: tilted.path).notes.map(\.code).contains(.gantryTiltResampled))
    }

    @Test(arguments: [1e6, 1e7, 3.0])
    func oneSliceMovedWithinItsPlaneIsNotATilt(millimetres: Double) throws {
        // A 10° tilt, then the fourth slice moved along its rows: off the tilt's straight line
        // (3 mm) or at an angle near 90° (1e6, 1e7 mm; once 191 103 added rows, up to 11 GB).
        let volume = IngestFixtures.volume(size: Extent3(16, 12, 8))
        let directory = try write(volume) { $0.gantryTiltDegrees = 10 }
        let file = try files(directory)[3]
        let position = try DicomBytes.decimals(file, group: 0x0020, element: 0x0032)
        try DicomBytes.patchDecimals(
            file, group: 0x0020, element: 0x0032, values: [position[0] + millimetres, position[1], position[2]])
        let error = try failure(directory.path)
        #expect(error.code == .implausibleTilt, "\(error)")
    }

    @Test func aDeflatedFileThatInflatesBeyondTheLimitIsRefusedBeforeDCMTKHoldsIt() throws {
        let directory = try write(Self.volume(spacing: [0.8, 0.7, 2.5], size: Extent3(16, 12, 1))) {
            $0.transferSyntax = .deflated
        }
        let file = try files(directory)[0]
        // The honest file reads.
        #expect(try DicomFolder.loadSeries(in: directory.path).volume.size == Extent3(16, 12, 1))
        // Keep its meta information (which names the deflated syntax) and replace the dataset by
        // a deflate stream of zeros one MiB beyond the limit: about 5 MB on disk (zlib level 1;
        // level 9 makes it 1 MB in four times the time).
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let metaLength = bytes[140..<144].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var bomb = bytes.prefix(144 + metaLength)
        bomb += try Self.rawDeflateOfZeros(Plausibility.maxInflatedDicomBytes + (1 << 20))
        #expect(bomb.count < 8 << 20)
        try bomb.write(to: URL(fileURLWithPath: file))
        let error = try failure(directory.path)
        #expect(error.code == .decompressedTooLarge, "\(error)")
        #expect(error.description.contains(file), "\(error)")
    }

    @Test func everyPlausibilityCodeIsAnIngestCodeWithTheSameString() {
        for code in PlausibilityCode.allCases {
            #expect(IngestCode(code).rawValue == code.rawValue)
            #expect(IngestCode(code).isRejection)
            #expect(IngestCode(code).isPlausibilityLimit)
        }
        #expect(!IngestCode.decodeFailed.isPlausibilityLimit)
    }

    func files(_ directory: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map { directory.file($0) }
    }

    /// `count` zero bytes as a raw deflate stream (no zlib header), compressed a MiB at a time.
    static func rawDeflateOfZeros(_ count: Int) throws -> Data {
        var z = z_stream()
        guard
            deflateInit2_(
                &z, 1, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
                == Z_OK
        else {
            throw IngestError(.unreadable, path: "zlib", detail: "deflateInit2 failed")
        }
        defer { deflateEnd(&z) }
        var input = [UInt8](repeating: 0, count: 1 << 20)
        var output = [UInt8](repeating: 0, count: 1 << 16)
        var result = Data()
        var left = count
        while true {
            let part = min(left, input.count)
            left -= part
            let flush = left == 0 ? Z_FINISH : Z_NO_FLUSH
            var status = Z_OK
            input.withUnsafeMutableBufferPointer { inp in
                z.next_in = inp.baseAddress
                z.avail_in = uInt(part)
                repeat {
                    output.withUnsafeMutableBufferPointer { out in
                        z.next_out = out.baseAddress
                        z.avail_out = uInt(out.count)
                        status = deflate(&z, flush)
                        result.append(out.baseAddress!, count: out.count - Int(z.avail_out))
                    }
                } while z.avail_out == 0 || (flush == Z_FINISH && status != Z_STREAM_END)
            }
            if left == 0 { break }
        }
        return result
    }
}

/// A JPEG 2000 frame whose codestream declares another size than the DICOM attributes: refused
/// before OpenJPEG sizes its buffers from it.
@Suite struct JPEG2000DeclaredSizeTests {
    @Test func aCodestreamDeclaringMorePixelsThanTheFrameIsRefusedBeforeDecoding() throws {
        let directory = try TemporaryDirectory("j2k")
        var options = DicomWriterOptions(transferSyntax: .jpeg2000Lossless)
        options.seriesNumber = 1
        try DicomSeriesWriter(options).write(IngestFixtures.volume(size: Extent3(16, 12, 2)), to: directory.path)
        // The honest series reads.
        #expect(try DicomFolder.loadSeries(in: directory.path).volume.size == Extent3(16, 12, 2))
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            let path = directory.file(name)
            var data = try Data(contentsOf: URL(fileURLWithPath: path))
            // SOC (FF4F), SIZ (FF51), Lsiz, Rsiz, then Xsiz and Ysiz (big endian): 65535 each,
            // and one tile of that size (XTsiz, YTsiz), as a crafted codestream would declare.
            let bytes = [UInt8](data)
            let marker: [UInt8] = [0xFF, 0x4F, 0xFF, 0x51]
            let found = (0..<(bytes.count - 4)).first { (at: Int) -> Bool in bytes[at..<(at + 4)].elementsEqual(marker)
            }
            let soc = try #require(found)
            data.replaceSubrange((soc + 8)..<(soc + 16), with: [0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF])
            data.replaceSubrange((soc + 24)..<(soc + 32), with: [0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF])
            try data.write(to: URL(fileURLWithPath: path))
        }
        #expect {
            try DicomFolder.loadSeries(in: directory.path)
        } throws: { error in
            guard let error = error as? IngestError else { return false }
            return error.code == .decodeFailed && error.description.contains("declares 65535×65535")
        }
    }
}
