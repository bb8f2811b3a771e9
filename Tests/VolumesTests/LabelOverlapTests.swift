import Testing
import Volumes

@Suite struct LabelOverlapTests {
    @Test func diceCountsSharedVoxels() {
        let prediction: [UInt8] = [0, 1, 1, 1, 2, 2, 0, 0]
        let reference: [UInt8] = [0, 1, 1, 0, 2, 0, 2, 3]
        let o = LabelOverlap(prediction: prediction, reference: reference, labelCount: 4)
        #expect(o.dice(1) == 2.0 * 2 / 5)
        #expect(o.dice(2) == 2.0 * 1 / 4)
        #expect(o.dice(3) == 0)
        #expect(o.meanForegroundDice! == (0.8 + 0.5 + 0) / 3)
    }

    @Test func absentLabelHasNoDice() {
        let o = LabelOverlap(prediction: [0, 0], reference: [0, 0], labelCount: 3)
        #expect(o.dice(2) == nil)
        #expect(o.meanForegroundDice == nil)
    }
}
