import Inference
import Segmentation
import Testing

struct CalibrationWindowsTests {
    /// A 19-slice upper-abdomen volume (shorter than any window) gives 32-slice windows whose
    /// first 19 slices are the volume and the rest its lowest value; long axes are cut evenly.
    @Test func aShortVolumeIsPaddedWithItsLowestValue() throws {
        let dims = [19, 40, 150]
        let values = (0..<dims.reduce(1, *)).map { Float($0 % 1000) - 500 }
        let windows = try CalibrationWindows.cut(values, dims: dims, model: [32, 96, 96], count: 2)
        #expect(windows.count == 2)
        #expect(windows.map(\.shape) == [try WindowShape(d: 32, h: 48, w: 96), try WindowShape(d: 32, h: 48, w: 96)])
        for (index, window) in windows.enumerated() {
            let x0 = index == 0 ? 0 : 150 - 96  // first window at the start, last at the end
            for z in [0, 18, 19, 31] {
                for y in [0, 39, 40, 47] {
                    for x in [0, 95] {
                        let got = window.values[(z * 48 + y) * 96 + x]
                        let want = z < 19 && y < 40 ? values[(z * 40 + y) * 150 + x0 + x] : -500
                        #expect(got == want, "window \(index) at \(z), \(y), \(x)")
                    }
                }
            }
        }
    }
}
