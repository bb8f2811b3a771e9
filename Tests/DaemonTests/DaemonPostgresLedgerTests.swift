import Daemon
import Foundation
import Glibc
import TestSupport
import Testing

/// The real daemon with its job ledger on PostgreSQL (`[ledger] url`, a private server): series
/// arriving while it is killed at random instants each end with exactly one complete result, as
/// with the SQLite ledger, and `lcovnet status` reads the same ledger.
@Suite(
    .serialized,
    .enabled(
        if: DaemonHarness.binaryExists && PostgresServer.binaries != nil,
        "needs the lcovnet binary and PostgreSQL (scripts/install-deps.sh)"))
struct DaemonPostgresLedgerTests {
    @Test func killedAtRandomInstantsNothingIsLostOrDuplicated() throws {
        let server = try PostgresServer()
        let h = try DaemonHarness(quietSeconds: 1, maxAttempts: 50, ledgerURL: server.url)
        let sent = try (0..<3).map {
            try DaemonFixtures.series(in: h.dir.file("s\($0)"), seed: 70 + $0, number: $0 + 1)
        }
        try h.start()
        var generator = SystemRandomNumberGenerator()
        for (index, series) in sent.enumerated() {
            for file in series.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study-\(index)") }
            usleep(UInt32.random(in: 200_000...900_000, using: &generator))
            h.stop(SIGKILL)
            try h.start()
        }
        #expect(h.wait(seconds: 300) { h.jobs().filter { $0.state == .done }.count == sent.count })
        #expect(h.stop() == 0)
        #expect(Set(FileSystem.entries(h.output)) == Set(sent.map(\.uid)))
        for series in sent { #expect(h.files("\(h.output)/\(series.uid)") == ["image.nii.gz", "series.json"]) }
        #expect(h.files(h.archive).count == sent.reduce(0) { $0 + $1.files.count })
        #expect(h.files(h.watch).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(h.work)/ledger.sqlite"))
        #expect(
            h.jobs().allSatisfy { $0.state == .done } && Set(h.jobs().compactMap(\.seriesUID)) == Set(sent.map(\.uid)))

        let status = try ReferenceTools.run(DaemonHarness.binary, ["status", "--config", h.configPath, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect((report?["counts"] as? [String: Int])?["done"] == sent.count, "\(status.stdout)")
    }
}
