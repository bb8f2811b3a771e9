/// One painted part of the phantom: a shape, the label it sets (nil keeps the label already
/// there, for lumens and gas inside an organ), and its tissue.
struct Structure: Sendable {
    var shape: any Shape
    var label: UInt8?
    var tissue: Tissue
    /// When set, the structure only paints voxels that already carry one of these labels
    /// (a lumen stays inside its organ).
    var onlyInside: Set<UInt8>? = nil
    /// Paints anywhere inside the body, over muscle and bone, not only inside the abdominal
    /// cavity: the femoral heads sit in the acetabulum, among muscle, where the femoral necks
    /// meet them.
    var outsideCavity = false
}

/// A tissue's attenuation: a base HU per contrast phase, and how strongly the shared texture
/// field modulates it.
struct Tissue: Sendable {
    var hu: [Double]  // native, arterial, portal-venous, delayed
    var texture: Double = 8

    init(_ native: Double, _ arterial: Double, _ portal: Double, _ delayed: Double, texture: Double = 8) {
        hu = [native, arterial, portal, delayed]
        self.texture = texture
    }

    init(all value: Double, texture: Double = 8) {
        self.init(value, value, value, value, texture: texture)
    }

    static let gas = Tissue(all: -950, texture: 20)
    static let fluid = Tissue(all: 12, texture: 4)
    static let corticalBone = Tissue(all: 850, texture: 60)
    static let cancellousBone = Tissue(all: 260, texture: 40)
}
