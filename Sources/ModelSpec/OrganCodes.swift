/// A coded concept of DICOM: code value, coding scheme designator, code meaning.
public struct CodedConcept: Sendable, Equatable {
    public var value: String
    public var scheme: String
    public var meaning: String

    public init(_ value: String, _ scheme: String, _ meaning: String) {
        self.value = value
        self.scheme = scheme
        self.meaning = meaning
    }
}

/// The SNOMED CT codes DICOM results name the WORD organs by (Segmented Property Type, with
/// laterality as its modifier), as pydicom's code dictionary spells them (tested against it):
/// what a PACS viewer or planning system shows instead of a label number.
public enum OrganCodes {
    /// Segmented Property Category of every organ (CID 7150).
    public static let category = CodedConcept("91723000", "SCT", "Anatomical Structure")
    static let left = CodedConcept("7771000", "SCT", "Left"), right = CodedConcept("24028007", "SCT", "Right")

    /// The property type and laterality of a WORD class (by its name in OrganClass.word).
    public static func code(for organ: String) -> (type: CodedConcept, laterality: CodedConcept?)? {
        switch organ {
        case "liver": (CodedConcept("10200004", "SCT", "Liver"), nil)
        case "spleen": (CodedConcept("78961009", "SCT", "Spleen"), nil)
        case "left kidney": (CodedConcept("64033007", "SCT", "Kidney"), left)
        case "right kidney": (CodedConcept("64033007", "SCT", "Kidney"), right)
        case "stomach": (CodedConcept("69695003", "SCT", "Stomach"), nil)
        case "gallbladder": (CodedConcept("28231008", "SCT", "Gallbladder"), nil)
        case "esophagus": (CodedConcept("32849002", "SCT", "Esophagus"), nil)
        case "pancreas": (CodedConcept("15776009", "SCT", "Pancreas"), nil)
        case "duodenum": (CodedConcept("38848004", "SCT", "Duodenum"), nil)
        case "colon": (CodedConcept("71854001", "SCT", "Colon"), nil)
        case "intestine": (CodedConcept("30315005", "SCT", "Small intestine"), nil)
        // WORD's "adrenal" is both glands in one label: no laterality.
        case "adrenal": (CodedConcept("23451007", "SCT", "Adrenal gland"), nil)
        case "rectum": (CodedConcept("34402009", "SCT", "Rectum"), nil)
        case "bladder": (CodedConcept("89837001", "SCT", "Bladder"), nil)
        case "left head of femur": (CodedConcept("2812003", "SCT", "Head of Femur"), left)
        case "right head of femur": (CodedConcept("2812003", "SCT", "Head of Femur"), right)
        default: nil
        }
    }
}
