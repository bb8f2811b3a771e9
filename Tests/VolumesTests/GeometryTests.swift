import Foundation
import Testing
import Volumes

@Suite struct GeometryTests {
    let oblique: Geometry = {
        let angle = 0.3
        let direction = Matrix3(columns: [cos(angle), sin(angle), 0], [-sin(angle), cos(angle), 0], [0, 0, 1])
        return Geometry(size: Extent3(4, 5, 6), spacing: [0.7, 0.8, 2.5], origin: [-100, 20, 300], direction: direction)
    }()

    @Test func pointAndIndexAreInverse() {
        let index = SIMD3<Double>(1.5, 3, 4.25)
        let back = oblique.index(atPoint: oblique.point(atIndex: index))
        #expect(abs(back.x - index.x) < 1e-9 && abs(back.y - index.y) < 1e-9 && abs(back.z - index.z) < 1e-9)
    }

    @Test func voxelCentreFollowsSpacingAndDirection() {
        let p = oblique.point(atIndex: [1, 0, 0])
        #expect(abs(p.x - (-100 + 0.7 * cos(0.3))) < 1e-12)
        #expect(abs(p.y - (20 + 0.7 * sin(0.3))) < 1e-12)
    }

    @Test func rasAffineNegatesXAndY() {
        let lps = oblique.affineLPS
        let ras = oblique.affineRAS
        #expect(ras[0][3] == 100 && ras[1][3] == -20 && ras[2][3] == 300)
        #expect(ras[0][0] == -lps[0][0] && ras[2][2] == lps[2][2])
    }

    @Test func affineRoundTrip() {
        let rebuilt = Geometry(size: oblique.size, affineLPS: oblique.affineLPS)
        #expect(rebuilt.isApproximatelyEqual(to: oblique, tolerance: 1e-12))
    }

    @Test(arguments: [
        (Matrix3.identity, "LPS"),
        (Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1]), "LAS"),
        (Matrix3(columns: [-1, 0, 0], [0, 0, 1], [0, -1, 0]), "RSA")
    ])
    func orientationCodes(direction: Matrix3, code: String) {
        #expect(Geometry(size: Extent3(1, 1, 1), direction: direction).orientationCode == code)
    }

    @Test func inverseMatrix() {
        let m = Matrix3(columns: [2, 0, 1], [1, 3, 0], [0, 1, 4])
        let product = m * m.inverse
        #expect(product.isApproximatelyEqual(to: .identity, tolerance: 1e-12))
    }
}
