import Daemon
import DaemonJobs
import Foundation
import Segmentation
import TestSupport
import Testing

@Suite struct TeacherLocationTests {
    /// A round distils from the configured teacher, none when told "none", else the environment's
    /// or the installed one.
    @Test func theTeacherIsConfiguredFoundOrOff() throws {
        let dir = try TemporaryDirectory("lcovnet-teacher")
        let file = dir.file("t.safetensors")
        FileManager.default.createFile(atPath: file, contents: Data())
        func teacher(_ value: String, _ env: [String: String]) throws -> String? {
            TeacherLocation.path(try ConfigurationLoader.parse("[retrain]\nteacher = \"\(value)\""), environment: env)
        }
        #expect(try teacher(file, ["LCOVNET_TEACHER": "/elsewhere"]) == file)
        #expect(try teacher("none", ["LCOVNET_TEACHER": file]) == nil)
        #expect(try teacher("", ["LCOVNET_TEACHER": file]) == file)
        #expect(try teacher("", [:]) == ShippedModels.teacher(environment: [:]))
    }
}
