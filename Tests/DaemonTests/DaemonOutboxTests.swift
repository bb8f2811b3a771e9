import Daemon
import Foundation
import Glibc
import Ingest
import PhantomDicom
import TestSupport
import Testing

/// An Orthanc (the PACS most sites can test with) started by the test on loopback, read through
/// its REST API.
final class OrthancProcess {
    static let binary = "/usr/sbin/Orthanc"
    static var exists: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    let dicomPort: Int
    let httpPort: Int
    private let folder: String
    private var process: Process?

    /// `tls`: DICOM over TLS only, with this certificate and key, peers' certificates checked against `trusted`.
    init(folder: String, tls: (certificate: String, key: String, trusted: String)? = nil) throws {
        self.folder = folder
        dicomPort = try DaemonStorageSCPTests.freePort()
        httpPort = try DaemonStorageSCPTests.freePort()
        var config: [String: Any] = [
            "Name": "lcovnet-test", "StorageDirectory": "\(folder)/storage", "IndexDirectory": "\(folder)/index",
            "HttpPort": httpPort, "DicomPort": dicomPort, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false, "DicomCheckCalledAet": false, "Plugins": [String]()
        ]
        if let tls {
            config["DicomTlsEnabled"] = true
            config["DicomTlsCertificate"] = tls.certificate
            config["DicomTlsPrivateKey"] = tls.key
            config["DicomTlsTrustedCertificates"] = tls.trusted
            config["DicomTlsRemoteCertificateRequired"] = true
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: "\(folder)/orthanc.json"))
    }

    deinit { stop() }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["\(folder)/orthanc.json"]
        p.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: "\(folder)/orthanc.log", contents: nil)
        p.standardError = FileHandle(forWritingAtPath: "\(folder)/orthanc.log")
        try p.run()
        process = p
    }

    /// SIGKILL: Orthanc inherits the test runner's blocked signal mask and would never see SIGTERM.
    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// GET on the REST API, decoded as JSON (nil while Orthanc is not answering).
    func get(_ path: String) -> Any? {
        let result = try? ReferenceTools.run("curl", ["-sf", "http://127.0.0.1:\(httpPort)\(path)"])
        guard let result, result.status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// The Modality of every instance stored, by SOP Instance UID.
    func instances() -> [String: String] {
        guard let ids = get("/instances") as? [String] else { return [:] }
        var out: [String: String] = [:]
        for id in ids {
            guard let tags = get("/instances/\(id)/simplified-tags") as? [String: Any],
                let uid = tags["SOPInstanceUID"] as? String
            else { continue }
            out[uid] = tags["Modality"] as? String ?? "?"
        }
        return out
    }
}

/// Results go to PACS: a series sent to the daemon's SCP is segmented and its SEG and RTSTRUCT
/// arrive in Orthanc exactly once, though Orthanc is down at first and the daemon is killed with
/// SIGKILL between receiving and sending.
@Suite(
    .serialized,
    .enabled(
        if: DaemonHarness.binaryExists && ShippedModel.exists && OrthancProcess.exists
            && ReferenceTools.hasExecutable("storescu") && ReferenceTools.hasExecutable("curl"),
        "needs the lcovnet binary, Models/default, Orthanc, storescu and curl (scripts/install-deps.sh)"))
struct DaemonOutboxTests {
    @Test func resultsReachOrthancExactlyOnceAcrossAKill() throws {
        let scp = try DaemonStorageSCPTests.freePort()
        let dir = try TemporaryDirectory("orthanc")
        let orthanc = try OrthancProcess(folder: dir.file("orthanc"))
        let h = try DaemonHarness(
            quietSeconds: 1,
            extra: """
                [dicom]
                port = \(scp)
                [[dicom.destinations]]
                ae_title = "ORTHANC"
                host = "127.0.0.1"
                port = \(orthanc.dicomPort)
                send = "both"
                """, job: "kind = \"segment\"\nmodel = \"\(ShippedModel.path)\"\nprecision = \"fp32\"\nthreads = 2")
        let sent = try DicomSeriesWriter().write(DaemonSegmentTests.phantomSlab(), to: h.dir.file("ct"))
        try h.start()
        #expect(h.wait(seconds: 60) { h.logged("storage SCP listening") })
        let stored = try ReferenceTools.run(
            "storescu", ["-aet", "CT1", "-aec", "LCOVNET", "127.0.0.1", "\(scp)", "+sd", h.dir.file("ct")])
        #expect(stored.status == 0, "\(stored.stderr)")

        // Orthanc is down: the result is committed, its objects wait in the outbox.
        #expect(h.wait(seconds: 300) { h.finished(1) })
        let folder = "\(h.output)/\(sent.seriesInstanceUID)"
        #expect(h.files(folder).contains("segmentation.dcm") && h.files(folder).contains("rtstruct.dcm"))
        #expect(h.wait(seconds: 30) { h.logged("results not sent; will retry") })
        h.stop(SIGKILL)

        try orthanc.start()
        #expect(h.wait(seconds: 60) { orthanc.get("/system") != nil })
        try h.start()
        #expect(h.wait(seconds: 120) { orthanc.instances().count >= 2 })
        // Given time to send twice, it has not.
        Thread.sleep(forTimeInterval: 3)
        let arrived = orthanc.instances()
        #expect(arrived.values.sorted() == ["RTSTRUCT", "SEG"])
        let ledger = try SQLiteJobLedger(readOnlyPath: "\(h.work)/ledger.sqlite")
        let outbox = try ledger.outbox()
        #expect(outbox.map(\.state) == [.sent, .sent])
        #expect(outbox.allSatisfy { $0.destination == "ORTHANC@127.0.0.1:\(orthanc.dicomPort)" })
        #expect(h.stdoutLines.filter { $0.contains("\"message\":\"results sent\"") }.count == 1)
        let status = try ReferenceTools.run(DaemonHarness.binary, ["status", "--config", h.configPath])
        #expect(status.stdout.contains("ORTHANC@127.0.0.1:\(orthanc.dicomPort)  sent 2, pending 0"), "\(status.stdout)")
        #expect(h.stop() == 0)
    }

    /// Over TLS both ways of trust: Orthanc requires the daemon's client certificate, the daemon
    /// checks Orthanc's against the same CA. A series dropped in the watch folder arrives as SEG.
    @Test(.enabled(if: ReferenceTools.hasExecutable("openssl"), "needs openssl"))
    func resultsReachAnOrthancOverTLS() throws {
        let dir = try TemporaryDirectory("orthanc-tls")
        try TestCertificates.make(in: dir.path)
        let orthanc = try OrthancProcess(
            folder: dir.file("orthanc"),
            tls: (dir.file("server.pem"), dir.file("server.key"), dir.file("ca.pem")))
        try orthanc.start()
        let h = try DaemonHarness(
            quietSeconds: 1,
            extra: """
                [dicom]
                tls_certificate = "\(dir.file("client.pem"))"
                tls_private_key = "\(dir.file("client.key"))"
                tls_trusted_certificates = "\(dir.file("ca.pem"))"
                [[dicom.destinations]]
                ae_title = "ORTHANC"
                host = "127.0.0.1"
                port = \(orthanc.dicomPort)
                send = "seg"
                tls = true
                """, job: "kind = \"segment\"\nmodel = \"\(ShippedModel.path)\"\nprecision = \"fp32\"\nthreads = 2")
        let sent = try DicomSeriesWriter().write(DaemonSegmentTests.phantomSlab(), to: h.dir.file("ct"))
        #expect(h.wait(seconds: 60) { orthanc.get("/system") != nil })
        try h.start()
        for file in sent.files { try DaemonFixtures.drop(file, into: "\(h.watch)/study") }
        #expect(h.wait(seconds: 300) { orthanc.instances().count >= 1 })
        #expect(orthanc.instances().values.sorted() == ["SEG"])
        #expect(try SQLiteJobLedger(readOnlyPath: "\(h.work)/ledger.sqlite").outbox().map(\.state) == [.sent])
        #expect(h.stop() == 0)
    }
}
