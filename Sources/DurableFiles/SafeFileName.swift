/// A name from outside (a SeriesInstanceUID, a file stem) made safe as one path component, the
/// one rule for every result folder: ASCII letters, digits, '.', '-' and '_' are kept, anything
/// else becomes '_'; a name starting with '.' (hidden, like the writers' temporaries, or "..")
/// gets a leading '_'; an empty name is "_".
public enum SafeFileName {
    public static func make(_ text: String) -> String {
        let cleaned = String(
            text.unicodeScalars.map { scalar -> Character in
                let ok =
                    scalar.isASCII
                    && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                        || scalar == "." || scalar == "-" || scalar == "_")
                return ok ? Character(scalar) : "_"
            })
        if cleaned.isEmpty { return "_" }
        return cleaned.hasPrefix(".") ? "_" + cleaned : cleaned
    }
}
