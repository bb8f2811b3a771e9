import Foundation
import Segmentation
import Testing

/// Every command and the daemon find the shipped models in one order.
@Suite struct ShippedModelsTests {
    @Test func theEnvironmentComesFirstThenTheSourceTree() throws {
        #expect(ShippedModels.defaultModel(environment: ["LCOVNET_MODEL": "/srv/model"]) == "/srv/model")
        #expect(ShippedModels.teacher(environment: ["LCOVNET_TEACHER": "/srv/t.safetensors"]) == "/srv/t.safetensors")
        // The test binary lies in this source tree's .build: its Models/default is found.
        let found = try #require(ShippedModels.defaultModel(environment: [:]))
        #expect(found.hasSuffix("/Models/default") && FileManager.default.fileExists(atPath: "\(found)/manifest.json"))
    }
}
