/// The 16 WORD organs of one phantom patient, as structures in paint order: large organs
/// first, so that smaller ones drawn later keep their full shape where they touch.
enum Organs {
    static func structures(
        halfWidth w: Double, halfDepth d: Double, habitus h: Double,
        using rng: inout SeededGenerator
    ) -> (structures: [Structure], content: HollowOrganContent) {
        var r = rng
        func jitter(_ scale: Double) -> Double { r.gaussian(sigma: scale) }
        func deform(_ amplitude: Double, _ wavelength: Double) -> SmoothField {
            SmoothField(wavelength: wavelength, amplitude: amplitude, using: &r)
        }
        func at(_ x: Double, _ y: Double, _ z: Double) -> SIMD3<Double> {
            SIMD3(x * w + jitter(6), y * d + jitter(5), z + jitter(10))
        }
        let s = h.squareRoot()
        var list: [Structure] = []

        // 11 small intestine: a field of loops filling the lower central abdomen.
        let bowel = Blob(
            center: at(0, -0.2, 45), semiAxes: SIMD3(0.52 * w, 0.5 * d, 75 * s), deformation: deform(0.12, 110))
        list.append(Structure(shape: bowel, label: 11, tissue: Tissue(40, 90, 100, 80, texture: 10)))
        list.append(
            Structure(
                shape: LoopLumen(region: bowel, period: 22, field: deform(1, 40)), label: nil,
                tissue: Tissue(all: 15, texture: 6), onlyInside: [11]))

        // 10 colon: a frame from the caecum round to the sigmoid; gas and stool inside.
        let colonPath = [
            at(-0.6, 0.0, 10), at(-0.62, 0.05, 110), at(-0.3, -0.55, 122), at(0.3, -0.55, 128),
            at(0.62, 0.1, 148), at(0.63, 0.2, 20), at(0.3, -0.1, -40), at(0.05, 0.3, -72)
        ]
        let colonRadius = 20 * s + jitter(2)
        list.append(
            Structure(
                shape: Tube(points: colonPath, radius: colonRadius, deformation: deform(0.15, 60)),
                label: 10, tissue: Tissue(40, 60, 70, 60)))
        list.append(
            Structure(
                shape: Tube(points: colonPath, radius: colonRadius * 0.7), label: nil,
                tissue: Tissue(all: -400, texture: 500), onlyInside: [10]))

        // 1 liver: right upper quadrant, flattened where it meets the spine and vessels.
        list.append(
            Structure(
                shape: Blob(
                    center: at(-0.36, -0.05, 178), semiAxes: SIMD3(0.52 * w, 0.68 * d, 88 * s),
                    yaw: r.uniform(-0.2...0.2),
                    deformation: deform(0.1, 130), cut: (normalize(SIMD3(0.75, 0.65, 0)), 0.26 * w)),
                label: 1, tissue: Tissue(55, 70, 112, 92)))
        // 2 spleen
        list.append(
            Structure(
                shape: Blob(
                    center: at(0.62, 0.38, 176), semiAxes: SIMD3(0.15 * w, 0.32 * d, 52 * s), yaw: 0.6 + jitter(0.1),
                    deformation: deform(0.12, 70)),
                label: 2, tissue: Tissue(45, 125, 118, 96, texture: 14)))
        // 5 stomach, with a fluid level and gas anteriorly.
        let stomachCentre = at(0.3, -0.25, 165)
        let stomachAxes = SIMD3(0.28 * w, 0.4 * d, 58 * s)
        list.append(
            Structure(
                shape: Blob(
                    center: stomachCentre, semiAxes: stomachAxes, yaw: -0.4 + jitter(0.1), deformation: deform(0.1, 80)),
                label: 5, tissue: Tissue(40, 80, 92, 72)))
        list.append(
            Structure(
                shape: Blob(center: stomachCentre, semiAxes: stomachAxes * 0.72, yaw: -0.4), label: nil,
                tissue: .fluid, onlyInside: [5]))
        list.append(
            Structure(
                shape: Blob(
                    center: stomachCentre + SIMD3(0, -0.22 * d, 15), semiAxes: SIMD3(0.18 * w, 0.14 * d, 30 * s)),
                label: nil, tissue: .gas, onlyInside: [5]))
        // 3 left and 4 right kidney: cortex with a medulla inside.
        for (label, side, z) in [(UInt8(3), 1.0, 105.0), (UInt8(4), -1.0, 90.0)] {
            let centre = at(0.38 * side, 0.42, z)
            let axes = SIMD3(27 * s, 24 * s, 52 * s)
            let yaw = side * (0.5 + jitter(0.1))
            list.append(
                Structure(
                    shape: Blob(center: centre, semiAxes: axes, yaw: yaw, deformation: deform(0.06, 60)),
                    label: label, tissue: Tissue(35, 220, 170, 140)))
            list.append(
                Structure(
                    shape: Blob(center: centre + SIMD3(-side * 5, 0, 0), semiAxes: axes * 0.6, yaw: yaw),
                    label: nil, tissue: Tissue(35, 95, 160, 150), onlyInside: [label]))
        }
        // 12 adrenal glands (one label for both).
        for (side, z) in [(1.0, 152.0), (-1.0, 147.0)] {
            list.append(
                Structure(
                    shape: Blob(center: at(0.24 * side, 0.38, z), semiAxes: SIMD3(6, 13, 20) * s, yaw: side * 0.8),
                    label: 12, tissue: Tissue(30, 60, 70, 60)))
        }
        // 8 pancreas: head by the duodenum, body over the spine, tail to the spleen.
        list.append(
            Structure(
                shape: Tube(
                    points: [at(-0.13, 0.0, 118), at(0.1, 0.12, 128), at(0.45, 0.3, 142)],
                    radii: [15 * s, 11 * s, 9 * s], deformation: deform(0.15, 40)),
                label: 8, tissue: Tissue(40, 110, 90, 70, texture: 12)))
        // 9 duodenum: the C around the pancreatic head (its content is painted last, below).
        let duodenumPath = [
            at(0.02, -0.22, 140), at(-0.2, -0.06, 134), at(-0.26, 0.05, 106),
            at(-0.05, 0.16, 94), at(0.15, 0.1, 100)
        ]
        let duodenumRadius = 11 * s
        list.append(
            Structure(
                shape: Tube(points: duodenumPath, radius: duodenumRadius, deformation: deform(0.15, 40)),
                label: 9, tissue: Tissue(40, 70, 80, 70)))
        // 6 gallbladder under the liver.
        list.append(
            Structure(
                shape: Blob(
                    center: at(-0.3, -0.38, 128), semiAxes: SIMD3(15, 17, 34) * s * r.uniform(0.7...1.2),
                    yaw: 0.5, deformation: deform(0.08, 50)),
                label: 6, tissue: Tissue(all: 10, texture: 3)))
        // 7 oesophagus: down in front of the spine, then left into the stomach.
        let oesophagusPath = [at(0.02, 0.42, 330), at(0.05, 0.35, 205), at(0.22, 0.02, 182)]
        list.append(
            Structure(
                shape: Tube(points: oesophagusPath, radius: 8 * s, deformation: deform(0.15, 40)),
                label: 7, tissue: Tissue(40, 70, 80, 70)))
        // 14 bladder, filled to a varying degree; excreted contrast settles posteriorly in the delayed phase.
        let fill = r.uniform(0.6...1.2)
        let bladderCentre = at(0, -0.45, -115)
        list.append(
            Structure(
                shape: Blob(
                    center: bladderCentre, semiAxes: SIMD3(45, 35, 34) * s * fill, deformation: deform(0.06, 60)),
                label: 14, tissue: Tissue(8, 8, 10, 12, texture: 3)))
        list.append(
            Structure(
                shape: Blob(center: bladderCentre + SIMD3(0, 30 * s * fill, 0), semiAxes: SIMD3(45, 22, 34) * s * fill),
                label: nil, tissue: Tissue(8, 8, 10, 180, texture: 3), onlyInside: [14]))
        // 13 rectum.
        list.append(
            Structure(
                shape: Tube(
                    points: [at(0.05, 0.3, -72), at(0, 0.55, -112), at(0, 0.6, -160)],
                    radius: 17 * s, deformation: deform(0.12, 40)),
                label: 13, tissue: Tissue(35, 50, 60, 50)))
        // 15 left and 16 right femoral head: cortex round cancellous bone, whole spheres (the
        // cavity's wall and the femoral neck, which starts at the head's centre, do not cut them:
        // a cut through saturated bone is a label edge no image shows).
        for (label, side) in [(UInt8(15), 1.0), (UInt8(16), -1.0)] {
            let centre = SIMD3(side * 0.56 * w, 0.05 * d, -150 + jitter(5))
            let radius = 23 * s + jitter(1.5)
            list.append(
                Structure(
                    shape: Blob(center: centre, semiAxes: SIMD3(repeating: radius)), label: label,
                    tissue: .corticalBone,
                    outsideCavity: true))
            list.append(
                Structure(
                    shape: Blob(center: centre, semiAxes: SIMD3(repeating: radius - 3)), label: nil,
                    tissue: .cancellousBone, onlyInside: [label], outsideCavity: true))
        }
        // Hollow-organ content, drawn and painted last so that every structure above keeps its
        // random draws (each structure also draws an HU offset in paint order). As on CT, the
        // duodenum is collapsed in some patients (a solid tube of bowel wall) and holds fluid in
        // the others, often with gas in its bulb; the oesophagus often holds a thread of air.
        var content = HollowOrganContent()
        if r.chance(2.0 / 3) {
            let lumen = r.uniform(0.4...0.7)
            content.duodenalFluidLumen = lumen
            list.append(
                Structure(
                    shape: Tube(points: duodenumPath, radius: lumen * duodenumRadius), label: nil,
                    tissue: .fluid, onlyInside: [9]))
            if r.chance(0.6) {
                content.duodenalBulbGas = true
                list.append(
                    Structure(
                        shape: Tube(points: Array(duodenumPath.prefix(2)), radius: lumen * 0.85 * duodenumRadius),
                        label: nil, tissue: .gas, onlyInside: [9]))
            }
        }
        if r.chance(0.6) {
            let radius = r.uniform(2...3) * s
            content.oesophagealAirRadiusMM = radius
            list.append(
                Structure(
                    shape: Tube(points: oesophagusPath, radius: radius), label: nil, tissue: .gas, onlyInside: [7]))
        }
        rng = r
        return (list, content)
    }
}

/// Lumens of small-bowel loops inside a region: where a smooth field's sine pattern is high.
struct LoopLumen: Shape {
    var region: Blob
    var period: Double
    var field: SmoothField

    var bounds: (min: SIMD3<Double>, max: SIMD3<Double>) { region.bounds }

    func contains(_ p: SIMD3<Double>) -> Bool {
        let phase = (p.x + 0.7 * p.y + 0.4 * p.z) / period + field.value(at: p) * 2
        return sin(2 * .pi * phase) * sin(2 * .pi * (p.y - 0.5 * p.x) / period) > 0.25
    }
}

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

func normalize(_ v: SIMD3<Double>) -> SIMD3<Double> { v / (v * v).sum().squareRoot() }
