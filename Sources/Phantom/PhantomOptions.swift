/// Contrast timing of a phantom scan; it sets the HU of organs and vessels.
public enum ContrastPhase: String, Sendable, CaseIterable, Codable {
    case native
    case arterial
    case portalVenous = "portal-venous"
    case delayed

    var index: Int {
        switch self {
        case .native: 0
        case .arterial: 1
        case .portalVenous: 2
        case .delayed: 3
        }
    }
}

/// What to generate. Every value left nil is drawn from the seed, so that one seed gives one
/// patient; setting a knob shifts the population (the domain-shift experiments use this).
public struct PhantomOptions: Sendable, Codable, Equatable {
    public var seed: UInt64
    /// Voxels along each in-plane axis.
    public var matrix: Int
    /// Distance between slices in mm (drawn from 1.5...5 when nil).
    public var sliceSpacing: Double?
    public var phase: ContrastPhase?
    /// Standard deviation of the scanner noise in HU (drawn from 8...25 when nil).
    public var noiseSigma: Double?
    /// Body size relative to an average adult (drawn from 0.85...1.2 when nil).
    public var habitus: Double?
    /// In-plane field of view in mm (drawn to fit the body with a margin when nil).
    public var fieldOfView: Double?

    public init(
        seed: UInt64, matrix: Int = 256, sliceSpacing: Double? = nil, phase: ContrastPhase? = nil,
        noiseSigma: Double? = nil, habitus: Double? = nil, fieldOfView: Double? = nil
    ) {
        self.seed = seed
        self.matrix = matrix
        self.sliceSpacing = sliceSpacing
        self.phase = phase
        self.noiseSigma = noiseSigma
        self.habitus = habitus
        self.fieldOfView = fieldOfView
    }
}

/// The values actually used for one phantom (the options with every blank drawn).
public struct PhantomParameters: Sendable, Codable, Equatable {
    public var seed: UInt64
    public var phase: ContrastPhase
    public var noiseSigma: Double
    public var habitus: Double
    public var halfWidth: Double
    public var halfDepth: Double
    public var subcutaneousFat: Double
    public var fieldOfView: Double
    public var pixelSpacing: Double
    public var sliceSpacing: Double
    public var zRange: ClosedRange<Double>
    /// What the duodenum and oesophagus hold (nil in records written before it was drawn).
    public var hollowOrganContent: HollowOrganContent?
}

/// The drawn content of the phantom's hollow organs, which changes their HU but not their labels.
public struct HollowOrganContent: Sendable, Codable, Equatable {
    /// Radius of the duodenum's fluid lumen as a fraction of the duodenum's; nil when collapsed.
    public var duodenalFluidLumen: Double?
    /// Gas in the duodenal bulb (only with a fluid lumen).
    public var duodenalBulbGas = false
    /// Radius of the oesophagus's air core in mm; nil without air.
    public var oesophagealAirRadiusMM: Double?

    public init() {}
}
