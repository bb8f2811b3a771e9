extension Duration {
    /// Seconds as a Double: the one conversion every timing (stage times, reports, logs) uses.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Whole milliseconds, for `duration_ms` log fields.
    public var inMilliseconds: Int { Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000) }
}
