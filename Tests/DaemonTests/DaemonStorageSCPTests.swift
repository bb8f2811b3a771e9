import Daemon
import Foundation
import Glibc
import NIfTI
import TestSupport
import Testing

/// The storage SCP of `lcovnet serve` ([dicom]) against DCMTK's own SCU tools (echoscu,
/// storescu), on the real daemon process.
@Suite(
    .serialized,
    .enabled(
        if: DaemonHarness.binaryExists && ReferenceTools.hasExecutable("storescu"),
        "needs the lcovnet binary and DCMTK's storescu/echoscu (scripts/install-deps.sh)"))
struct DaemonStorageSCPTests {
    /// A TCP port free on loopback now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A series sent over the network is processed like one dropped in the watch folder; a
    /// calling AE title not on the list is rejected at association; the SCP child killed with
    /// SIGKILL is started again and answers, the daemon untouched.
    @Test func aSeriesSentWithCStoreIsProcessedOnce() throws {
        let port = try Self.freePort()
        let h = try DaemonHarness(
            quietSeconds: 1.5,
            extra: """
                [dicom]
                ae_title = "LCOVNET"
                port = \(port)
                accepted_calling_ae_titles = ["CT1"]
                """)
        let series = try DaemonFixtures.series(in: h.dir.file("send"), seed: 31)
        try h.start()
        #expect(h.wait(seconds: 60) { h.logged("storage SCP listening") })
        let target = ["-aec", "LCOVNET", "127.0.0.1", "\(port)"]

        let wrong = try ReferenceTools.run("echoscu", ["-aet", "STRANGER"] + target)
        #expect(wrong.status != 0)
        #expect((wrong.stdout + wrong.stderr).contains("Calling AE Title Not Recognized"))
        #expect(h.wait(seconds: 10) { h.logged("association refused") })

        let sent = try ReferenceTools.run("storescu", ["-aet", "CT1"] + target + ["+sd", h.dir.file("send")])
        #expect(sent.status == 0, "\(sent.stderr)")
        let intake = "\(h.watch)/dicom-network"
        #expect(h.wait(seconds: 120) { h.finished(1) })
        let jobs = h.jobs()
        #expect(jobs.map { "\($0.seriesUID ?? "") \($0.state)" } == ["\(series.uid) done"])
        let volume = try NIfTIFile.read("\(h.output)/\(series.uid)/image.nii.gz").hounsfieldVolume()
        #expect(volume.voxels == series.volume.voxels)

        // The SCP is a child of its own: killing it costs no job and it is back at once.
        let found = try ReferenceTools.run("pgrep", ["-f", "store-scp.*--intake \(intake)"])
        let pids = found.stdout.split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 1)
        for pid in pids { kill(pid, SIGKILL) }
        #expect(
            h.wait(seconds: 30) {
                h.stdoutLines.filter { $0.contains("\"message\":\"storage SCP listening\"") }.count == 2
            })
        let echoed = try ReferenceTools.run("echoscu", ["-aet", "CT1"] + target)
        #expect(echoed.status == 0, "\(echoed.stderr)")
        #expect(h.isRunning)
        #expect(h.jobs().count == 1)
        // SIGTERM stops the daemon and its SCP (a hung child would make this -9).
        #expect(h.stop() == 0)
        #expect(try ReferenceTools.run("pgrep", ["-f", "store-scp.*--intake \(intake)"]).stdout.isEmpty)
    }
}

/// A test CA with a server and a client certificate (openssl), in `folder`.
enum TestCertificates {
    static func make(in folder: String) throws {
        func openssl(_ arguments: [String]) throws {
            let r = try ReferenceTools.run("openssl", arguments, workingDirectory: folder)
            guard r.status == 0 else { throw POSIXError(.EIO) }
        }
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=lcovnet test CA"
        ])
        for name in ["server", "client", "stranger"] {
            try openssl([
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj",
                "/CN=\(name)"
            ])
        }
        for name in ["server", "client"] {
            try openssl([
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                "\(name).pem", "-days", "2"
            ])
        }
        // Self-signed: chains to no CA the daemon trusts.
        try openssl([
            "x509", "-req", "-in", "stranger.csr", "-signkey", "stranger.key", "-out", "stranger.pem", "-days", "2"
        ])
    }
}

@Suite(
    .serialized,
    .enabled(
        if: DaemonHarness.binaryExists && ReferenceTools.hasExecutable("storescu")
            && ReferenceTools.hasExecutable("openssl"),
        "needs the lcovnet binary, DCMTK's storescu and openssl"))
struct DaemonStorageSCPTLSTests {
    /// With [dicom] TLS files the SCP speaks TLS only, and only to peers whose certificate chains
    /// to the trusted CA: DCMTK's storescu over TLS with the CA's client certificate gets the
    /// series in; plain TCP, and TLS with a self-signed certificate, get nothing in.
    @Test func tlsPeersWithATrustedCertificateOnly() throws {
        let port = try DaemonStorageSCPTests.freePort()
        let certs = try TemporaryDirectory("certs")
        try TestCertificates.make(in: certs.path)
        let h = try DaemonHarness(
            quietSeconds: 1,
            extra: """
                [dicom]
                port = \(port)
                tls_certificate = "\(certs.file("server.pem"))"
                tls_private_key = "\(certs.file("server.key"))"
                tls_trusted_certificates = "\(certs.file("ca.pem"))"
                """)
        let series = try DaemonFixtures.series(in: h.dir.file("send"), seed: 41)
        try h.start()
        #expect(h.wait(seconds: 60) { h.logged("storage SCP listening") })
        let target = ["-aet", "CT1", "-aec", "LCOVNET", "127.0.0.1", "\(port)", "+sd", h.dir.file("send")]
        let plain = try ReferenceTools.run("storescu", target)
        #expect(plain.status != 0)
        let stranger = try ReferenceTools.run(
            "storescu",
            [
                "+tls", certs.file("stranger.key"), certs.file("stranger.pem"),
                "+cf", certs.file("ca.pem")
            ] + target)
        #expect(stranger.status != 0)
        let trusted = try ReferenceTools.run(
            "storescu",
            [
                "+tls", certs.file("client.key"), certs.file("client.pem"),
                "+cf", certs.file("ca.pem")
            ] + target)
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(h.wait(seconds: 120) { h.finished(1) })
        #expect(h.jobs().map { "\($0.seriesUID ?? "") \($0.state)" } == ["\(series.uid) done"])
        #expect(h.stop() == 0)
    }
}
