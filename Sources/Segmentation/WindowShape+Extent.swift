import Inference
import Volumes

extension WindowShape {
    /// The window as a grid extent: i = W (columns), j = H (rows), k = D (slices). The one place
    /// the network's D×H×W order turns into the volumes' i, j, k.
    public var extent: Extent3 { Extent3(w, h, d) }
}
