internal import CDicom
import Foundation

/// A DICOM peer that takes objects with C-STORE (a PACS, a planning system).
public struct DicomPeer: Sendable, Equatable, Codable {
    public var aeTitle: String
    public var host: String
    public var port: Int
    public init(aeTitle: String, host: String, port: Int) {
        self.aeTitle = aeTitle
        self.host = host
        self.port = port
    }
    /// How logs and `lcovnet status` name it.
    public var name: String { "\(aeTitle)@\(host):\(port)" }
}

/// Sends files to a peer with C-STORE in one association (DCMTK dcmnet).
public enum StorageSCU {
    public enum Failure: Error, CustomStringConvertible {
        /// No association, or it broke off: try again later.
        case unreachable(String)
        /// A file here could not be read.
        case local(String)
        public var description: String {
            switch self {
            case .unreachable(let s), .local(let s): s
            }
        }
    }

    /// Each file's DIMSE status (0 success; 0xBxxx warnings also mean stored).
    public static func send(
        _ files: [String], to peer: DicomPeer, callingAETitle: String, maxPDU: Int = 65_536,
        acseTimeoutSeconds: Int = 30, dimseTimeoutSeconds: Int = 60, tls: DicomTLS? = nil
    ) throws(Failure) -> [Int] {
        cdicom_initialize()
        var statuses = [Int32](repeating: -1, count: files.count)
        var message = [CChar](repeating: 0, count: 512)
        let paths = files.map { strdup($0) }
        defer { paths.forEach { free($0) } }
        let result: Int32 = peer.host.withCString { host in
            callingAETitle.withCString { calling in
                peer.aeTitle.withCString { called in
                    DicomTLS.withOptions(tls) { tlsOptions in
                        var options = cdicom_scu_options(
                            host: host, port: Int32(peer.port), calling_ae_title: calling, called_ae_title: called,
                            max_pdu: UInt32(maxPDU), acse_timeout_seconds: UInt32(acseTimeoutSeconds),
                            dimse_timeout_seconds: UInt32(dimseTimeoutSeconds), tls: tlsOptions)
                        return paths.map { UnsafePointer($0) }.withUnsafeBufferPointer { list in
                            cdicom_send_files(
                                &options, list.baseAddress, Int32(files.count), &statuses, &message, message.count)
                        }
                    }
                }
            }
        }
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch result {
        case 0: return statuses.map(Int.init)
        case CDICOM_SCU_UNREACHABLE: throw .unreachable(text)
        default: throw .local(text)
        }
    }

    /// Whether a C-STORE status means the peer holds the object.
    public static func isStored(_ status: Int) -> Bool { status == 0 || (status & 0xF000) == 0xB000 }
}
