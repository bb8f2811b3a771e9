import Foundation

/// JSON the way the result files use it: pretty, keys sorted, written atomically.
enum JSONOutput {
    static func write(_ value: some Encodable, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data: Data
        do { data = try encoder.encode(value) } catch {
            throw ExportError(path: path, reason: "cannot encode JSON: \(error)")
        }
        try AtomicFile.write(Array(data) + [0x0A], to: path)
    }
}
