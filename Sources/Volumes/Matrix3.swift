/// A 3×3 matrix of doubles stored by columns. Linux has no `simd` matrices, and geometry needs
/// only products, transposes and inverses of direction matrices.
public struct Matrix3: Sendable, Equatable, Hashable, Codable {
    public var columns: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>)

    public init(columns c0: SIMD3<Double>, _ c1: SIMD3<Double>, _ c2: SIMD3<Double>) {
        columns = (c0, c1, c2)
    }

    public static let identity = Matrix3(columns: [1, 0, 0], [0, 1, 0], [0, 0, 1])

    public subscript(column: Int) -> SIMD3<Double> {
        get {
            switch column {
            case 0: columns.0
            case 1: columns.1
            default: columns.2
            }
        }
        set {
            switch column {
            case 0: columns.0 = newValue
            case 1: columns.1 = newValue
            default: columns.2 = newValue
            }
        }
    }

    /// Element at `row`, `column`.
    public subscript(row: Int, column: Int) -> Double {
        get { self[column][row] }
        set { self[column][row] = newValue }
    }

    public var transposed: Matrix3 {
        Matrix3(
            columns: [self[0, 0], self[0, 1], self[0, 2]],
            [self[1, 0], self[1, 1], self[1, 2]],
            [self[2, 0], self[2, 1], self[2, 2]])
    }

    public var determinant: Double {
        let (a, b, c) = columns
        return (a * cross(b, c)).sum()
    }

    public var inverse: Matrix3 {
        let (a, b, c) = columns
        let det = determinant
        let r0 = cross(b, c) / det
        let r1 = cross(c, a) / det
        let r2 = cross(a, b) / det
        return Matrix3(columns: r0, r1, r2).transposed
    }

    public static func * (m: Matrix3, v: SIMD3<Double>) -> SIMD3<Double> {
        m.columns.0 * v.x + m.columns.1 * v.y + m.columns.2 * v.z
    }

    public static func * (a: Matrix3, b: Matrix3) -> Matrix3 {
        Matrix3(columns: a * b.columns.0, a * b.columns.1, a * b.columns.2)
    }

    public static func == (a: Matrix3, b: Matrix3) -> Bool {
        a.columns.0 == b.columns.0 && a.columns.1 == b.columns.1 && a.columns.2 == b.columns.2
    }

    public func hash(into hasher: inout Hasher) {
        for c in 0..<3 { for r in 0..<3 { hasher.combine(self[r, c]) } }
    }

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var values = [Double]()
        while !container.isAtEnd { values.append(try container.decode(Double.self)) }
        guard values.count == 9 else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a 3×3 matrix needs 9 numbers, row by row")
        }
        self.init(
            columns: [values[0], values[3], values[6]], [values[1], values[4], values[7]],
            [values[2], values[5], values[8]])
    }

    /// Encodes row by row, the way people read matrices.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for r in 0..<3 { for c in 0..<3 { try container.encode(self[r, c]) } }
    }

    public func isApproximatelyEqual(to other: Matrix3, tolerance: Double = 1e-6) -> Bool {
        (0..<3).allSatisfy { c in (0..<3).allSatisfy { r in abs(self[r, c] - other[r, c]) <= tolerance } }
    }
}

public func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}

public func dot(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { (a * b).sum() }

public func length(_ a: SIMD3<Double>) -> Double { dot(a, a).squareRoot() }

public func normalize(_ a: SIMD3<Double>) -> SIMD3<Double> { a / length(a) }
