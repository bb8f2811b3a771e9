import Foundation
import ModelSpec
import Testing

@Suite struct InputPreparationTests {
    @Test func decodesTheDocumentedExample() throws {
        let json = """
            {"orientation": "LPS", "resample": {"mode": "spacing", "spacing_mm": [1.5, 1.5, 3]},
             "normalization": {"mode": "clip-scale", "hu_min": -200, "hu_max": 300},
             "body_crop": {"threshold_hu": -500, "margin_mm": 10}}
            """
        let p = try JSONDecoder().decode(InputPreparation.self, from: Data(json.utf8))
        #expect(p.orientation == "LPS")
        #expect(p.resample == .spacing([1.5, 1.5, 3]))
        #expect(p.normalization == .clipScale(min: -200, max: 300))
        #expect(p.bodyCrop == InputPreparation.BodyCrop(thresholdHU: -500, marginMM: 10))
    }

    @Test func roundTripsTheOfficialCheckpointsRecipe() throws {
        let data = try JSONEncoder().encode(InputPreparation.officialCheckpoint)
        #expect(try JSONDecoder().decode(InputPreparation.self, from: data) == .officialCheckpoint)
        #expect(String(decoding: data, as: UTF8.self).contains("\"fixed-shape\""))
    }

    @Test func rejectsAnInvertedWindow() {
        let json =
            #"{"resample": {"mode": "spacing", "spacing_mm": [1, 1, 1]}, "normalization": {"mode": "clip-scale", "hu_min": 300, "hu_max": -200}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(InputPreparation.self, from: Data(json.utf8)) }
    }

    @Test func wordHasSixteenOrgansAfterBackground() {
        #expect(OrganClass.word.count == 17)
        #expect(OrganClass.word.enumerated().allSatisfy { $0.offset == $0.element.id })
        #expect(OrganClass.word[14].name == "bladder")
    }
}
