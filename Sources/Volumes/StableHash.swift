/// A stable 64-bit hash (FNV-1a): the same in every process and on every machine, unlike Swift's
/// seeded `Hasher`. For splits, file names and seeds derived from names.
public enum StableHash {
    public static func fnv1a<Bytes: Sequence>(bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// Over the text's UTF-8.
    public static func fnv1a(_ text: String) -> UInt64 { fnv1a(bytes: text.utf8) }

    /// `fnv1a` as 16 hex digits.
    public static func hex(_ text: String) -> String { hex(fnv1a(text)) }

    public static func hex(_ hash: UInt64) -> String {
        let s = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
