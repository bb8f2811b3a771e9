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

    /// Summed over several maps, Dice pools the counts (not a mean of per-map Dice).
    @Test func addPoolsCountsOverMaps() {
        var o = LabelOverlap(labelCount: 3)
        o.add(prediction: [1, 1, 0], reference: [1, 0, 0])
        o.add(prediction: [0, 0, 2], reference: [1, 1, 2])
        #expect(o.dice(1) == 2.0 * 1 / (2 + 3))
        #expect(o.dice(2) == 1)
        #expect(o == LabelOverlap(prediction: [1, 1, 0, 0, 0, 2], reference: [1, 0, 0, 1, 1, 2], labelCount: 3))
    }
}
