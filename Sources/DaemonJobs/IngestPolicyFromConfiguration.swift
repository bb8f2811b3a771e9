import Daemon
import Ingest

extension IngestPolicy {
    /// The policy `[ingest]` sets (its values were checked when the configuration was read).
    public init(configuration c: DaemonConfiguration.Ingest) {
        self.init()
        func choice(_ value: String) -> Choice { Choice(rawValue: value) ?? .reject }
        missingSlices = choice(c.missingSlices)
        nonUniformSpacing = choice(c.nonUniformSpacing)
        gantryTilt = choice(c.gantryTilt)
        damagedFiles = choice(c.damagedFiles)
        minimumSlices = c.minimumSlices
    }
}
