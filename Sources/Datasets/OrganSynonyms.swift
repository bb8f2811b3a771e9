import Foundation

/// The names datasets give the model's organs (WORD, BTCV, AMOS, FLARE22, TotalSegmentator).
public enum OrganSynonyms {
    static let table: [String: String] = [
        "kidney left": "left kidney", "kidney l": "left kidney", "l kidney": "left kidney", "lkidney": "left kidney",
        "kidney right": "right kidney", "kidney r": "right kidney", "r kidney": "right kidney",
        "rkidney": "right kidney",
        "gall bladder": "gallbladder", "oesophagus": "esophagus",
        "small bowel": "intestine", "small intestine": "intestine", "bowel": "intestine",
        "adrenal gland": "adrenal", "left adrenal gland": "adrenal", "right adrenal gland": "adrenal",
        "adrenal gland left": "adrenal", "adrenal gland right": "adrenal", "left adrenal": "adrenal",
        "right adrenal": "adrenal",
        "urinary bladder": "bladder",
        "femur left": "left head of femur", "head of femur left": "left head of femur",
        "left femoral head": "left head of femur",
        "femoral head left": "left head of femur", "femur right": "right head of femur",
        "head of femur right": "right head of femur",
        "right femoral head": "right head of femur", "femoral head right": "right head of femur"
    ]

    /// Lower case, `_` and `-` as spaces, then the table's name.
    public static func canonical(_ name: String) -> String {
        let plain = name.lowercased().replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "-", with: " ")
            .split(separator: " ").joined(separator: " ")
        return table[plain] ?? plain
    }
}
