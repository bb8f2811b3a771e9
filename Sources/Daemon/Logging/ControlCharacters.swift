/// Text from outside (a SeriesInstanceUID, a series description, a file name) printed to a
/// terminal must not drive it: ESC sequences could repaint the screen and a newline forge a line.
extension String {
    /// Control characters (C0 including newline and tab, DEL, C1) written as \u{1B}; everything
    /// else as it is.
    public var escapingControlCharacters: String {
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }
}
