/// An 8-bit RGB raster, rows top to bottom, for the preview.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: [UInt8] = [0, 0, 0]) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for n in 0..<(width * height) {
            pixels[3 * n] = fill[0]
            pixels[3 * n + 1] = fill[1]
            pixels[3 * n + 2] = fill[2]
        }
    }

    public func pixel(_ x: Int, _ y: Int) -> [UInt8] {
        let n = 3 * (x + width * y)
        return [pixels[n], pixels[n + 1], pixels[n + 2]]
    }

    public mutating func set(_ x: Int, _ y: Int, _ c: [UInt8]) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let n = 3 * (x + width * y)
        pixels[n] = c[0]
        pixels[n + 1] = c[1]
        pixels[n + 2] = c[2]
    }

    /// Fills the rectangle's part inside the image (none when it lies wholly outside).
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ c: [UInt8]) {
        let rows = max(0, y)..<max(max(0, y), min(height, y + h))
        let columns = max(0, x)..<max(max(0, x), min(width, x + w))
        for yy in rows { for xx in columns { set(xx, yy, c) } }
    }

    /// Copies `other` with its top-left corner at (x, y).
    public mutating func paste(_ other: RGBImage, x: Int, y: Int) {
        for yy in 0..<other.height { for xx in 0..<other.width { set(x + xx, y + yy, other.pixel(xx, yy)) } }
    }

    /// Draws `text` with its top-left corner at (x, y), each font pixel `scale` pixels wide;
    /// `outlined` rings it in black so it stays readable over anatomy.
    public mutating func draw(
        _ text: String, x: Int, y: Int, scale: Int = 2, color: [UInt8] = [255, 255, 255], outlined: Bool = false
    ) {
        if outlined {
            for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                draw(text, x: x + dx, y: y + dy, scale: scale, color: [0, 0, 0])
            }
        }
        var cx = x
        for ch in text {
            let rows = BitmapFont.glyph(ch)
            for (r, bits) in rows.enumerated() {
                for c in 0..<BitmapFont.width where bits & (1 << (BitmapFont.width - 1 - c)) != 0 {
                    fill(x: cx + c * scale, y: y + r * scale, width: scale, height: scale, color)
                }
            }
            cx += BitmapFont.advance * scale
        }
    }

    public static func textWidth(_ text: String, scale: Int = 2) -> Int { text.count * BitmapFont.advance * scale }
}
