#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The trunk around the organs: skin, fat, muscle, spine, ribs, pelvis, lungs and the great
/// vessels, as a function of position (nothing here carries an organ label).
struct Body: Sendable {
    var halfWidth: Double  // W: x semi-axis at the waist, mm
    var halfDepth: Double  // D: y semi-axis, mm
    var fat: Double  // subcutaneous fat thickness, mm
    var phase: ContrastPhase
    var texture: SmoothField
    var outline: SmoothField
    var ribPhase: Double

    var spineY: Double { halfDepth * 0.5 }

    /// Semi-axes of the body outline at height z (wider at the hips, narrower at the chest top).
    func semiAxes(z: Double) -> (Double, Double) {
        let hips = 1 + 0.08 * exp(-pow((z + 110) / 60, 2))
        let chest = 1 - 0.06 * max(0, min(1, (z - 200) / 100))
        return (halfWidth * hips * chest, halfDepth * chest)
    }

    /// HU of the trunk at p, and whether an organ may be drawn there (inside the abdominal
    /// cavity, not in bone, muscle or a great vessel).
    func sample(at p: SIMD3<Double>) -> (hu: Double, cavity: Bool) {
        let (w, d) = semiAxes(z: p.z)
        let rho = ((p.x / w) * (p.x / w) + (p.y / d) * (p.y / d)).squareRoot() * (1 + outline.value(at: p))
        if rho > 1 {
            // Air, and the scanner table under the patient.
            return (p.y > d + 8 && p.y < d + 18 && abs(p.x) < w * 0.9 ? 150 : -1000, false)
        }
        let depth = (1 - rho) * min(w, d)  // approximate distance under the skin, mm
        if depth < 2 { return (30, false) }
        if depth < 2 + fat { return (-105 + texture.value(at: p), false) }
        if depth < 14 + fat {
            if let rib = ribHU(p, rho: rho) { return (rib, false) }
            return (50 + texture.value(at: p) * 0.5, false)
        }
        if let bone = skeletonHU(p) { return (bone, false) }
        if let vessel = vesselHU(p) { return (vessel, false) }
        if let muscle = deepMuscleHU(p) { return (muscle, false) }
        if let lung = lungHU(p, rho: rho) { return (lung, true) }
        return (-90 + texture.value(at: p), true)
    }

    private func ribHU(_ p: SIMD3<Double>, rho: Double) -> Double? {
        guard p.z > 60 else { return nil }
        let angle = atan2(p.y, p.x)
        guard p.y > -0.3 * halfDepth || abs(p.x) > 0.4 * halfWidth else { return nil }  // no ribs over the belly
        let s = sin(2 * .pi * (p.z + 18 * angle) / 34 + ribPhase)
        return s > 0.72 ? (s > 0.9 ? 300 : 700) : nil
    }

    private func skeletonHU(_ p: SIMD3<Double>) -> Double? {
        // Vertebral bodies with discs every 32 mm, the canal and the posterior arch.
        let dx = p.x
        let dy = p.y - spineY
        let r = (dx * dx + dy * dy).squareRoot()
        if p.z > -60 {
            if r < 20 {
                let disc = abs(remainder(p.z, 32)) > 13
                return disc ? 85 : (r > 17 ? 700 : 230 + texture.value(at: p) * 3)
            }
            let cy = dy - 30
            let canal = (dx * dx + cy * cy).squareRoot()
            if canal < 8 { return 15 }
            if canal < 13 || (abs(dx) < 5 && cy > 0 && cy < 35) || (abs(cy) < 5 && abs(dx) < 32) { return 550 }
        } else {
            // Sacrum: a posterior plate.
            let sy = p.y - (spineY + 12 + (-(p.z + 60)) * 0.25)
            if abs(dx) < 45 - (-(p.z + 60)) * 0.2, abs(sy) < 9 { return abs(sy) > 6 ? 650 : 250 }
        }
        // Iliac wings: curved plates running from the sacrum forward and out.
        if p.z < 0, p.z > -130 {
            let side = p.x >= 0 ? 1.0 : -1.0
            let cx = side * halfWidth * 0.35
            let cy = spineY * 0.4
            let rr =
                (((p.x - cx) / (halfWidth * 0.42)) * ((p.x - cx) / (halfWidth * 0.42))
                + ((p.y - cy) / (halfDepth * 0.55)) * ((p.y - cy) / (halfDepth * 0.55))).squareRoot()
            let lateral = (p.x - cx) * side > -halfWidth * 0.05
            if lateral, abs(rr - 1) < 0.06 + 0.04 * max(0, -(p.z + 60)) / 70 { return abs(rr - 1) > 0.035 ? 700 : 300 }
        }
        // Femoral necks and shafts reaching out from the heads (the heads are organs).
        if p.z < -125 {
            let side = p.x >= 0 ? 1.0 : -1.0
            let hx = side * halfWidth * 0.56
            let t = (p.x - hx) * side
            if t > 0, t < 45, abs(p.y - 0.05 * halfDepth) < 14, abs(p.z + 150 + t * 0.5) < 12 { return 600 }
        }
        return nil
    }

    private func vesselHU(_ p: SIMD3<Double>) -> Double? {
        let aortaHU = [40.0, 330, 170, 120][phase.index]
        let caval = [40.0, 70, 150, 120][phase.index]
        if p.z > -40 {
            let ax = p.x - 0.08 * halfWidth
            let ay = p.y - (spineY - 30)
            if ax * ax + ay * ay < 11 * 11 { return aortaHU }
            if p.z < 230 {
                let vx = p.x + 0.12 * halfWidth
                let vy = p.y - (spineY - 26)
                if vx * vx + vy * vy < 12 * 12 { return caval }
            }
        } else if p.z > -150 {
            // Common and external iliac arteries diverging towards the hips.
            let t = (-40 - p.z) / 110
            let side = p.x >= 0 ? 1.0 : -1.0
            let cx = side * (0.08 * halfWidth + t * 0.38 * halfWidth)
            let cy = (spineY - 30) * (1 - t) + 0.15 * halfDepth * t
            let dx = p.x - cx
            let dy = p.y - cy
            if dx * dx + dy * dy < 7 * 7 { return aortaHU }
        }
        return nil
    }

    private func lungHU(_ p: SIMD3<Double>, rho: Double) -> Double? {
        let dome = 232 + (p.x < 0 ? 14.0 : 0) + 30 * pow(max(0, rho), 2)
        guard p.z > dome, rho < 0.86 else { return nil }
        // The heart and mediastinum.
        if abs(p.x) < 0.3 * halfWidth, p.y < 0.15 * halfDepth { return 40 + texture.value(at: p) }
        return -840 + texture.value(at: p) * 3
    }

    private func deepMuscleHU(_ p: SIMD3<Double>) -> Double? {
        // Paraspinal muscles behind the spine and the psoas beside it (widening downwards).
        let py = p.y - (spineY + 32)
        let px = abs(p.x) - 38
        if (px * px) / (28 * 28) + (py * py) / (22 * 22) < 1 { return 52 + texture.value(at: p) * 0.5 }
        if p.z < 90, p.z > -120 {
            let r = 8 + (90 - p.z) * 0.12
            let sx = abs(p.x) - (28 + (90 - p.z) * 0.12)
            let sy = p.y - spineY
            if sx * sx + sy * sy < r * r { return 50 + texture.value(at: p) * 0.5 }
        }
        return nil
    }
}
