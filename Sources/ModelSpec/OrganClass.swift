/// One output class of a segmentation model: its label value, name and display colour.
public struct OrganClass: Sendable, Equatable, Codable {
    public var id: Int
    public var name: String
    /// sRGB display colour for previews and DICOM SEG (a palette whose neighbours in the
    /// abdomen differ clearly in hue).
    public var color: [UInt8]

    public init(id: Int, name: String, color: [UInt8]) {
        self.id = id
        self.name = name
        self.color = color
    }
}

extension OrganClass {
    /// The 17 classes of the WORD data set (background and 16 organs), in label order.
    public static let word: [OrganClass] = [
        OrganClass(id: 0, name: "background", color: [0, 0, 0]),
        OrganClass(id: 1, name: "liver", color: [214, 96, 77]),
        OrganClass(id: 2, name: "spleen", color: [148, 103, 189]),
        OrganClass(id: 3, name: "left kidney", color: [31, 119, 180]),
        OrganClass(id: 4, name: "right kidney", color: [23, 190, 207]),
        OrganClass(id: 5, name: "stomach", color: [255, 187, 120]),
        OrganClass(id: 6, name: "gallbladder", color: [44, 160, 44]),
        OrganClass(id: 7, name: "esophagus", color: [227, 119, 194]),
        OrganClass(id: 8, name: "pancreas", color: [255, 215, 0]),
        OrganClass(id: 9, name: "duodenum", color: [188, 189, 34]),
        OrganClass(id: 10, name: "colon", color: [140, 86, 75]),
        OrganClass(id: 11, name: "intestine", color: [255, 152, 150]),
        OrganClass(id: 12, name: "adrenal", color: [255, 127, 14]),
        OrganClass(id: 13, name: "rectum", color: [127, 60, 141]),
        OrganClass(id: 14, name: "bladder", color: [174, 199, 232]),
        OrganClass(id: 15, name: "left head of femur", color: [152, 223, 138]),
        OrganClass(id: 16, name: "right head of femur", color: [197, 176, 213]),
    ]
}
