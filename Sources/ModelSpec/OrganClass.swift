/// One output class of a segmentation model: its label value, name and display colour.
public struct OrganClass: Sendable, Equatable, Codable {
    public var id: Int
    public var name: String
    /// sRGB display colour for previews and DICOM SEG.
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
        OrganClass(id: 1, name: "liver", color: [221, 130, 101]),
        OrganClass(id: 2, name: "spleen", color: [157, 108, 162]),
        OrganClass(id: 3, name: "left kidney", color: [185, 102, 83]),
        OrganClass(id: 4, name: "right kidney", color: [220, 173, 140]),
        OrganClass(id: 5, name: "stomach", color: [216, 132, 105]),
        OrganClass(id: 6, name: "gallbladder", color: [139, 150, 98]),
        OrganClass(id: 7, name: "esophagus", color: [211, 171, 143]),
        OrganClass(id: 8, name: "pancreas", color: [249, 180, 111]),
        OrganClass(id: 9, name: "duodenum", color: [255, 253, 229]),
        OrganClass(id: 10, name: "colon", color: [204, 168, 143]),
        OrganClass(id: 11, name: "intestine", color: [255, 225, 200]),
        OrganClass(id: 12, name: "adrenal", color: [244, 214, 49]),
        OrganClass(id: 13, name: "rectum", color: [152, 55, 13]),
        OrganClass(id: 14, name: "bladder", color: [222, 154, 132]),
        OrganClass(id: 15, name: "left head of femur", color: [241, 214, 145]),
        OrganClass(id: 16, name: "right head of femur", color: [235, 188, 150]),
    ]
}
