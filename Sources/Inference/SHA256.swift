internal import CCrypto
import Foundation

/// SHA-256 for model provenance, by OpenSSL's libcrypto (EVP; Foundation on Linux has no
/// CryptoKit, and DCMTK's TLS links libcrypto already).
enum SHA256 {
    /// The file's digest, read in 1 MiB pieces.
    static func hex(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw InferenceError("\(path): cannot read") }
        defer { try? handle.close() }
        let digest = Digest()
        while true {
            let piece: Data
            do { piece = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw InferenceError("\(path): cannot read (\(error))")
            }
            if piece.isEmpty { break }
            digest.update(piece)
        }
        return digest.finish()
    }

    static func hex(of data: Data) -> String {
        let digest = Digest()
        digest.update(data)
        return digest.finish()
    }

    private struct Digest: ~Copyable {
        let context: OpaquePointer

        init() {
            guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
                fatalError("libcrypto cannot start a SHA-256 digest")  // only on allocation failure
            }
            self.context = context
        }

        deinit { EVP_MD_CTX_free(context) }

        func update(_ data: Data) {
            _ = data.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        }

        consuming func finish() -> String {
            var bytes = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length: UInt32 = 0
            _ = EVP_DigestFinal_ex(context, &bytes, &length)
            return bytes.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
        }
    }
}
