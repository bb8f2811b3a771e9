/// One output class of a segmentation model: its label value, name and display colour.
public struct OrganClass: Sendable, Equatable, Codable {
    public var id: Int
    public var name: String
    /// sRGB display colour for previews and DICOM SEG (a palette whose neighbours in the
    /// abdomen differ clearly in hue).
    public var color: [UInt8]
    /// Connected pieces the largest-component clean-up keeps: nil or 1 for a solid organ, 2 for
    /// the adrenal glands (one label for both), 0 for an organ seen in any number of pieces
    /// (bowel loops), which the clean-up leaves alone.
    public var pieces: Int?
    /// Whether the clean-up keeps the organ's lowest pieces (towards the feet) among those at
    /// least a quarter the size of its largest, rather than its largest (LargestComponent).
    public var lowestPieces: Bool?

    enum CodingKeys: String, CodingKey { case id, name, color, pieces, lowestPieces = "lowest_pieces" }

    public init(id: Int, name: String, color: [UInt8], pieces: Int? = nil, lowestPieces: Bool? = nil) {
        self.id = id
        self.name = name
        self.color = color
        self.pieces = pieces
        self.lowestPieces = lowestPieces
    }
}

extension OrganClass {
    /// The 17 classes of the WORD data set (background and 16 organs), in label order. Pieces
    /// kept by the clean-up, measured on phantoms 21-26 with the 8 400-step model (mean Dice of
    /// each organ with its largest piece only / with every piece): adrenal 0.635 / 0.895 (both
    /// glands), colon 0.833 / 0.958, esophagus 0.740 / 0.806, duodenum 0.559 / 0.574 (tubes the
    /// prediction breaks up); the solid organs gain ≤ 0.002 from it and keep it (it removes
    /// stray islands on real scans). The pancreas, a long thin gland the prediction can split
    /// in two, keeps every piece since the 2026-11-27-step16200 model: on validation phantoms
    /// 901-908 one split made its largest piece the wrong one (0.455 against 0.783). The bladder
    /// keeps its lowest piece: on validation phantom 901 a model took a fluid-filled small-bowel
    /// loop 80 mm higher (14 363 voxels) for it besides the bladder itself (9 754), and the
    /// larger piece won (bladder Dice 0 against 0.98).
    public static let word: [OrganClass] = [
        OrganClass(id: 0, name: "background", color: [0, 0, 0]),
        OrganClass(id: 1, name: "liver", color: [214, 96, 77]),
        OrganClass(id: 2, name: "spleen", color: [148, 103, 189]),
        OrganClass(id: 3, name: "left kidney", color: [31, 119, 180]),
        OrganClass(id: 4, name: "right kidney", color: [23, 190, 207]),
        OrganClass(id: 5, name: "stomach", color: [255, 187, 120]),
        OrganClass(id: 6, name: "gallbladder", color: [44, 160, 44]),
        OrganClass(id: 7, name: "esophagus", color: [227, 119, 194], pieces: 0),
        OrganClass(id: 8, name: "pancreas", color: [255, 215, 0], pieces: 0),
        OrganClass(id: 9, name: "duodenum", color: [188, 189, 34], pieces: 0),
        OrganClass(id: 10, name: "colon", color: [140, 86, 75], pieces: 0),
        OrganClass(id: 11, name: "intestine", color: [255, 152, 150], pieces: 0),
        OrganClass(id: 12, name: "adrenal", color: [255, 127, 14], pieces: 2),
        OrganClass(id: 13, name: "rectum", color: [127, 60, 141]),
        OrganClass(id: 14, name: "bladder", color: [174, 199, 232], lowestPieces: true),
        OrganClass(id: 15, name: "left head of femur", color: [152, 223, 138]),
        OrganClass(id: 16, name: "right head of femur", color: [197, 176, 213])
    ]
}
