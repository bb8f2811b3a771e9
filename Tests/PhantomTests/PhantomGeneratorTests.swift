import Phantom
import Testing
import Volumes

@Suite struct PhantomGeneratorTests {
    static let small = PhantomOptions(seed: 7, matrix: 64, sliceSpacing: 5)

    @Test func sameSeedSamePhantom() {
        let a = PhantomGenerator.generate(Self.small)
        let b = PhantomGenerator.generate(Self.small)
        #expect(a.image.voxels == b.image.voxels)
        #expect(a.labels.voxels == b.labels.voxels)
        #expect(a.parameters == b.parameters)
    }

    @Test func otherSeedOtherPatient() {
        var options = Self.small
        options.seed = 8
        let a = PhantomGenerator.generate(Self.small)
        let b = PhantomGenerator.generate(options)
        #expect(a.labels.voxels != b.labels.voxels)
        #expect(a.parameters.halfWidth != b.parameters.halfWidth)
    }

    @Test func everyOrganIsPresentWithPlausibleVolume() {
        let p = PhantomGenerator.generate(Self.small)
        var counts = [Int](repeating: 0, count: 17)
        for l in p.labels.voxels { counts[Int(l)] += 1 }
        let ml = p.labels.geometry.voxelVolumeML
        for organ in 1...16 { #expect(counts[organ] > 0, "organ \(organ) missing") }
        // Liver 1.0-3.5 l, spleen 60-600 ml, kidneys 60-400 ml each: adult ranges, loosely.
        #expect((800...3500).contains(Double(counts[1]) * ml))
        #expect((60...600).contains(Double(counts[2]) * ml))
        #expect((60...400).contains(Double(counts[3]) * ml) && (60...400).contains(Double(counts[4]) * ml))
        #expect(Double(counts[1]) > Double(counts[6]) * 5, "liver much larger than gallbladder")
    }

    @Test func organsSitOnTheirSide() {
        // LPS x grows towards the patient's left: liver and right kidney on the right (x < 0).
        let p = PhantomGenerator.generate(Self.small)
        func meanX(_ label: UInt8) -> Double {
            var sum = 0.0
            var n = 0
            for k in 0..<p.labels.size.k {
                for j in 0..<p.labels.size.j {
                    for i in 0..<p.labels.size.i where p.labels[i, j, k] == label {
                        sum += p.labels.geometry.point(atIndex: SIMD3(Double(i), Double(j), Double(k))).x
                        n += 1
                    }
                }
            }
            return sum / Double(max(n, 1))
        }
        #expect(meanX(1) < 0 && meanX(4) < 0 && meanX(16) < 0)
        #expect(meanX(2) > 0 && meanX(3) > 0 && meanX(15) > 0)
    }

    @Test func hounsfieldValuesArePlausible() {
        var options = Self.small
        options.phase = .portalVenous
        options.noiseSigma = 1
        let p = PhantomGenerator.generate(options)
        var liver = [Double]()
        for (n, l) in p.labels.voxels.enumerated() where l == 1 { liver.append(Double(p.image.voxels[n])) }
        let mean = liver.reduce(0, +) / Double(liver.count)
        #expect((80...140).contains(mean), "portal-venous liver mean \(mean) HU")
        #expect(p.image.voxels.min()! >= -1024 && p.image.voxels.max()! <= 1500)
        #expect(p.image[0, 0, 0] < -900, "air in the corner")
    }

    @Test func shiftKnobsTakeEffect() {
        var options = Self.small
        options.phase = .native
        options.habitus = 1.2
        let p = PhantomGenerator.generate(options)
        #expect(p.parameters.phase == .native && p.parameters.habitus == 1.2)
        #expect(p.image.geometry.spacing.z == 5)
        #expect(p.image.geometry.orientationCode == "LAS")
    }

    /// The femoral heads are whole balls: neither the cavity's wall nor the femoral neck cuts a
    /// piece out of them (a cut through saturated bone is a label edge the image does not show).
    /// Each head's label fills the ball its in-plane extent spans (cut, it filled 0.79 and 0.81).
    @Test func femoralHeadsAreWholeBalls() {
        let p = PhantomGenerator.generate(PhantomOptions(seed: 11, matrix: 128, sliceSpacing: 3))
        let n = p.labels.geometry.size
        let spacing = p.labels.geometry.spacing
        for head in [UInt8(15), 16] {
            var (iMin, iMax, jMin, jMax, count) = (n.i, -1, n.j, -1, 0)
            for k in 0..<n.k {
                for j in 0..<n.j {
                    for i in 0..<n.i where p.labels.voxels[i + n.i * (j + n.j * k)] == head {
                        (iMin, iMax, jMin, jMax) = (min(iMin, i), max(iMax, i), min(jMin, j), max(jMax, j))
                        count += 1
                    }
                }
            }
            let width = Double(iMax - iMin + 1) * spacing.x
            let depth = Double(jMax - jMin + 1) * spacing.y
            let ball = Double.pi / 6 * width * depth * depth
            let volume = Double(count) * spacing.x * spacing.y * spacing.z
            #expect(abs(width - depth) <= 2 * spacing.x, "head \(head): \(width) × \(depth) mm")
            #expect(volume >= 0.9 * ball, "head \(head): \(volume) of a \(ball) mm³ ball")
        }
    }

    /// As on CT, the duodenum is collapsed in some patients and holds fluid in others (often with
    /// gas in its bulb), and the oesophagus often holds a thread of air: seed 4 draws all three,
    /// seed 3 none. Before 0deaf90 every duodenum was solid (seed 11: 4 % below 25 HU, none below
    /// −200); from 0deaf90 to this test's commit every one held fluid and gas.
    @Test func hollowOrganContentVariesByPatient() {
        var drawn: [UInt64: HollowOrganContent] = [:]
        func fractions(seed: UInt64) -> (
            fluid: Double, duodenalGas: Double, oesophagealAir: Double, pancreaticGas: Double
        ) {
            let p = PhantomGenerator.generate(PhantomOptions(seed: seed, matrix: 128, sliceSpacing: 3))
            drawn[seed] = p.parameters.hollowOrganContent
            func fraction(_ label: UInt8, below hu: Int16) -> Double {
                var inside = 0
                var below = 0
                for (l, v) in zip(p.labels.voxels, p.image.voxels) where l == label {
                    inside += 1
                    if v < hu { below += 1 }
                }
                return Double(below) / Double(max(inside, 1))
            }
            return (
                fraction(9, below: 25), fraction(9, below: -200), fraction(7, below: -200), fraction(8, below: -200)
            )
        }
        let full = fractions(seed: 4)
        let empty = fractions(seed: 3)
        #expect(full.fluid >= 0.2 && full.duodenalGas >= 0.03 && full.oesophagealAir >= 0.02, "\(full)")
        #expect(empty.fluid <= 0.08 && empty.duodenalGas == 0 && empty.oesophagealAir <= 0.01, "\(empty)")
        #expect(full.pancreaticGas <= 0.01 && empty.pancreaticGas <= 0.01, "the pancreas stays solid")
        // The record says what was drawn (phantom.json).
        let four = drawn[4]!
        let three = drawn[3]!
        #expect(four.duodenalFluidLumen != nil && four.duodenalBulbGas && four.oesophagealAirRadiusMM != nil, "\(four)")
        #expect(three == HollowOrganContent(), "\(three)")
    }
}
