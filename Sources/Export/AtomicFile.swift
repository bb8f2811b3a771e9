import DurableFiles
import Foundation

/// Export's durable writes (DurableFiles owns how), with failures as `ExportError`s naming the
/// file: readers see the old file or the whole new one, never a part, even across a crash.
public enum AtomicFile {
    /// Runs `write` with a temporary path (same folder, same file-name ending, so writers that
    /// choose their format by the name keep working), then commits it to `path`.
    public static func write(to path: String, _ write: (_ temporaryPath: String) throws -> Void) throws {
        do {
            try Durable.write(to: path, write)
        } catch let error as ExportError {
            throw error
        } catch let error as DurableError {
            throw exportError(error, path: path)
        } catch {
            throw ExportError(path: path, reason: "\(error)")
        }
    }

    /// Writes `bytes` atomically.
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws {
        do { try Durable.write(bytes, to: path) } catch { throw exportError(error, path: path) }
    }

    /// Writes a string as UTF-8 atomically.
    public static func write(text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// fsync on a folder, so the renames into it last.
    static func syncFolder(_ path: String) throws {
        do { try Durable.sync(path) } catch { throw exportError(error, path: path) }
    }

    /// The failure, named by the file the caller asked for (not the temporary one).
    static func exportError(_ error: DurableError, path: String) -> ExportError {
        ExportError(path: path, reason: error.reason, errno: error.errno)
    }
}
