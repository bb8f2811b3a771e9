import Daemon
import Datasets
import Foundation
import Retraining

extension RetrainSettings {
    /// A retraining round's settings as the daemon's configuration states them (`[retrain]`,
    /// the teacher's and the corrections' paths): the one place `[retrain]` becomes a round.
    /// - Throws: when `rehearsal_label_map` names neither a known dataset nor a readable JSON map.
    public init(configuration c: DaemonConfiguration, environment: [String: String]) throws {
        let r = c.retrain
        self.init(
            window: r.patchWindow, steps: r.steps, batch: r.batch, learningRate: r.learningRate,
            validationPercent: r.validationPercent, promoteMargin: r.promoteMargin, minimumSeries: r.minimumSeries,
            threads: r.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : r.threads,
            teacher: TeacherLocation.path(c, environment: environment), corrections: c.correctionsPath)
        calibrationWindows = r.calibrationWindows
        rehearsalFraction = r.rehearsal
        rehearsalSeeds = (1...r.rehearsalPhantoms).map(UInt64.init)
        if !r.rehearsalDataset.isEmpty {
            rehearsalDataset = r.rehearsalDataset
            rehearsalLabelMap =
                r.rehearsalLabelMap.isEmpty ? nil : try LabelledDataset.labelMap(named: r.rehearsalLabelMap)
        }
        anchorSeeds = Self.anchorSeeds(count: r.anchorPhantoms)
        anchorTolerance = r.anchorTolerance
        minimumValidationSeries = r.minimumValidationSeries
        phantomMatrix = r.phantomMatrix
    }
}
