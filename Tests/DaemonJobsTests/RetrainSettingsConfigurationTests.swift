import Daemon
import DaemonJobs
import Foundation
import Retraining
import Testing

/// `[retrain]` becomes a round's settings in one place (RetrainSettings(configuration:)).
@Suite struct RetrainSettingsConfigurationTests {
    @Test func theConfigurationsRetrainSectionIsTheRoundsSettings() throws {
        let c = try ConfigurationLoader.parse(
            """
            [retrain]
            steps = 40
            threads = 1
            rehearsal = 0.25
            rehearsal_phantoms = 3
            rehearsal_dataset = "/data/site"
            rehearsal_label_map = "btcv"
            anchor_phantoms = 3
            phantom_matrix = 128
            """)
        let s = try RetrainSettings(configuration: c, environment: [:])
        #expect(s.steps == 40 && s.threads == 1 && s.rehearsalFraction == 0.25 && s.phantomMatrix == 128)
        #expect(s.rehearsalSeeds == [1, 2, 3])
        #expect(s.rehearsalDataset == "/data/site" && s.rehearsalLabelMap?["1"] == "spleen")
        #expect(s.anchorSeeds == [9001, 9002, 9003])

        let unknownMap = try ConfigurationLoader.parse(
            "[retrain]\nrehearsal_dataset = \"/data/site\"\nrehearsal_label_map = \"/no/such.json\"\n")
        #expect(throws: (any Error).self) { try RetrainSettings(configuration: unknownMap, environment: [:]) }
        #expect(
            try RetrainSettings(configuration: try ConfigurationLoader.parse(""), environment: [:]).rehearsalDataset
                == nil)
    }
}
