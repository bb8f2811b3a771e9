internal import CDicom
import Foundation
import Glibc

/// A DICOM storage SCP (DCMTK dcmnet): answers C-ECHO and stores CT images sent with C-STORE
/// under `intake/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`, each synced to disk before success
/// is answered. `lcovnet serve` runs it in a child process (`lcovnet worker store-scp`), so that
/// bytes from the network are parsed where a crash ends only that child.
public struct StorageSCP: Sendable {
    public var aeTitle: String
    public var address: String
    public var port: Int
    /// Calling AE titles let in; empty lets any in.
    public var acceptedCallingAETitles: [String]
    public var maxPDU: Int
    public var acseTimeoutSeconds: Int
    public var dimseTimeoutSeconds: Int
    public var intake: String
    /// Associations are refused while the intake's file system has less free space than this.
    public var minimumFreeBytes: UInt64
    /// DICOM over TLS only, when given.
    public var tls: DicomTLS?

    public init(
        aeTitle: String, address: String, port: Int, acceptedCallingAETitles: [String], maxPDU: Int,
        acseTimeoutSeconds: Int, dimseTimeoutSeconds: Int, intake: String, minimumFreeBytes: UInt64,
        tls: DicomTLS? = nil
    ) {
        self.tls = tls
        self.aeTitle = aeTitle
        self.address = address
        self.port = port
        self.acceptedCallingAETitles = acceptedCallingAETitles
        self.maxPDU = maxPDU
        self.acseTimeoutSeconds = acseTimeoutSeconds
        self.dimseTimeoutSeconds = dimseTimeoutSeconds
        self.intake = intake
        self.minimumFreeBytes = minimumFreeBytes
    }

    public enum Event: Sendable, Equatable {
        /// An instance was stored (its path relative to the intake).
        case stored(String)
        case refused(String)
        case storeFailed(String)
        case associationAccepted(callingAETitle: String)
        case associationEnded(callingAETitle: String)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Binds the address and port, then serves until the process ends; returns only by throwing.
    public func run(events: @escaping (Event) -> Void) throws(Failure) -> Never {
        cdicom_initialize()
        try? FileManager.default.createDirectory(atPath: intake, withIntermediateDirectories: true)
        let socket = try listeningSocket()
        final class Box {
            let handle: (Event) -> Void
            init(_ h: @escaping (Event) -> Void) { handle = h }
        }
        let box = Unmanaged.passRetained(Box(events))
        let callback: cdicom_scp_event = { context, kind, text in
            let box = Unmanaged<Box>.fromOpaque(context!).takeUnretainedValue()
            let s = text.map { String(cString: $0) } ?? ""
            switch Int(kind) {
            case Int(CDICOM_SCP_STORED.rawValue): box.handle(.stored(s))
            case Int(CDICOM_SCP_REFUSED.rawValue): box.handle(.refused(s))
            case Int(CDICOM_SCP_STORE_FAILED.rawValue): box.handle(.storeFailed(s))
            case Int(CDICOM_SCP_ASSOCIATION.rawValue): box.handle(.associationAccepted(callingAETitle: s))
            default: box.handle(.associationEnded(callingAETitle: s))
            }
        }
        var message = [CChar](repeating: 0, count: 512)
        let titles = acceptedCallingAETitles.map { strdup($0) }
        defer { titles.forEach { free($0) } }
        _ = titles.map { UnsafePointer($0) }.withUnsafeBufferPointer { accepted in
            aeTitle.withCString { ae in
                intake.withCString { folder in
                    DicomTLS.withOptions(tls) { tlsOptions in
                        var options = cdicom_scp_options(
                            listen_socket: socket, ae_title: ae, accepted_calling: accepted.baseAddress,
                            accepted_count: Int32(accepted.count),
                            max_pdu: UInt32(maxPDU), acse_timeout_seconds: UInt32(acseTimeoutSeconds),
                            dimse_timeout_seconds: UInt32(dimseTimeoutSeconds),
                            intake: folder, minimum_free_bytes: minimumFreeBytes, event: callback,
                            context: box.toOpaque(), tls: tlsOptions)
                        return cdicom_run_storage_scp(&options, &message, message.count)
                    }
                }
            }
        }
        throw Failure(
            description: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// A TCP socket bound to address:port and listening (IPv4 or IPv6 by the address's form).
    func listeningSocket() throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address, String(port), &hints, &found) == 0, let info = found else {
            throw Failure(description: "\(address) is not an IP address to listen on")
        }
        defer { freeaddrinfo(info) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot listen on \(address) port \(port): \(reason)")
        }
        return fd
    }
}
