import Volumes

/// Decodes a candidate's slices into one buffer, file by file on a few threads.
enum SeriesLoader {
    /// Returns the stacked slices (one per slice reference, i fastest, last DICOM row first) and
    /// the number of clamped values.
    static func decode(_ candidate: SeriesCandidate, threads: Int) throws(IngestError) -> (Volume<Int16>, Int) {
        let sliceVoxels = candidate.rows * candidate.columns
        let count = candidate.slices.count
        do {
            try Plausibility.checkVoxelCount([candidate.columns, candidate.rows, count], path: candidate.slices[0].path)
        } catch {
            throw IngestError(error)
        }
        var geometry = candidate.geometry
        geometry.size = Extent3(candidate.columns, candidate.rows, count)
        // Every file is opened once, however many of its frames the series uses.
        let byFile = Dictionary(grouping: candidate.slices.indices, by: { candidate.slices[$0].path })
        let jobs = byFile.keys.sorted().map { byFile[$0]! }
        let clamped = ResultSlots<Int>(count: jobs.count)
        let slices = candidate.slices
        let voxels: [Int16]
        do {
            voxels = try [Int16](unsafeUninitializedCapacity: sliceVoxels * count) { storage, initialized in
                // No zero fill: every voxel is decoded into (first touch happens on the decoding
                // threads), and on an error the array is never used. Int16 needs no deinitialization.
                let buffer = SharedBuffer(storage: storage)
                try Parallel.forEach(jobs.count, threads: threads) { job in
                    let indices = jobs[job]
                    // The scan's open handle when it is still there: its headers are parsed already.
                    let path = slices[indices[0]].path
                    let file = try candidate.openFiles?.take(path) ?? DicomFile(path: path, headersOnly: false)
                    var total = 0
                    for k in indices {
                        let s = slices[k]
                        total += try file.decodeHounsfield(
                            frame: s.frame, slope: s.slope, intercept: s.intercept,
                            into: buffer.slice(k * sliceVoxels, count: sliceVoxels))
                    }
                    clamped[job] = total
                }
                initialized = storage.count
            }
        } catch let error as IngestError {
            throw error
        } catch {
            throw IngestError(.decodeFailed, path: candidate.slices[0].path, detail: "\(error)")
        }
        let total = clamped.values.reduce(0) { $0 + ($1 ?? 0) }
        return (Volume(geometry: geometry, voxels: voxels), total)
    }
}

/// A buffer that parallel workers fill in disjoint ranges.
struct SharedBuffer<Element>: @unchecked Sendable {
    // @unchecked: workers write disjoint ranges, and the owner reads only after they all finish.
    let storage: UnsafeMutableBufferPointer<Element>
    func slice(_ start: Int, count: Int) -> UnsafeMutableBufferPointer<Element> {
        UnsafeMutableBufferPointer(rebasing: storage[start..<(start + count)])
    }
}
