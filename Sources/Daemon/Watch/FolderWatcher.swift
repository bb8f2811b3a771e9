import Glibc
import Logging

/// A folder of the watch tree whose files are ready to be claimed.
public struct ReadyFolder: Sendable {
    /// Relative to the watch folder ("" for the top).
    public var relative: String
    public var path: String
    /// Absolute paths of the files to claim (hidden files and the marker left out).
    public var files: [String]
    /// The marker file, when one made the folder ready.
    public var marker: String?
}

/// Watches the watch folder and its subfolders with inotify (new subfolders are added as they
/// appear), with full rescans at start-up, every `rescan_seconds` and after an event overflow.
///
/// Completeness is decided per folder: a folder's files are ready when nothing in that folder has
/// arrived or changed for `quiet_seconds`, or at once when the marker file appears. Header-level
/// grouping into series happens after that (`SeriesGrouper`).
///
/// Used by one task only (the daemon's intake loop), hence not Sendable.
public final class FolderWatcher {
    struct FolderState {
        var lastActivity: Double
        var signature: Signature
    }

    struct Signature: Equatable {
        var count = 0
        var bytes: Int64 = 0
        var latest: Double = 0
    }

    public let root: String
    public var markerFile: String
    private let logger: Logger
    private var descriptor: Int32 = -1
    private var watches: [Int32: String] = [:]
    private var folders: [String: FolderState] = [:]
    private var lastRescan = -Double.infinity

    public init(root: String, markerFile: String, logger: Logger) {
        self.root = root
        self.markerFile = markerFile
        self.logger = logger
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    public func start(now: Double) throws(SystemCallError) {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if descriptor < 0 { throw SystemCallError("inotify_init1", path: root) }
        addWatches(under: "")
        rescan(now: now)
    }

    /// Reads pending inotify events and rescans when `rescanSeconds` have passed.
    public func poll(now: Double, rescanSeconds: Double) {
        var overflow = false
        var dirty = Set<String>()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while descriptor >= 0 {
            let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var offset = 0
            while offset + 16 <= n {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw in
                    (
                        raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                        raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                        Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    )
                }
                let nameBytes = buffer[(offset + 16)..<min(n, offset + 16 + length)].prefix { $0 != 0 }
                let name = String(decoding: nameBytes, as: UTF8.self)
                offset += 16 + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    overflow = true
                    continue
                }
                if mask & UInt32(IN_IGNORED) != 0 {
                    watches[wd] = nil
                    continue
                }
                guard let folder = watches[wd] else { continue }
                let child = folder.isEmpty ? name : "\(folder)/\(name)"
                if mask & UInt32(IN_ISDIR) != 0 {
                    if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                        // Files may land before the watch is in place: scan what is already there.
                        addWatches(under: child)
                        scanTree(child, now: now)
                    }
                    continue
                }
                if !name.hasPrefix(".") { dirty.insert(folder) }
            }
        }
        // One listing per changed folder per poll, however many events it had.
        for folder in dirty { scanFolder(folder, now: now, fresh: true) }
        if overflow {
            logger.warning("inotify queue overflowed; rescanning")
            addWatches(under: "")
        }
        if overflow || now - lastRescan >= rescanSeconds { rescan(now: now) }
    }

    /// Folders with files that are quiet or marked complete.
    public func readyFolders(now: Double, quietSeconds: Double) -> [ReadyFolder] {
        var ready: [ReadyFolder] = []
        for (relative, state) in folders.sorted(by: { $0.key < $1.key }) {
            let path = absolute(relative)
            let (files, marker) = listing(path)
            if files.isEmpty {
                if let marker { unlink(marker) }
                if state.signature.count == 0 { folders[relative] = nil }
                continue
            }
            if marker != nil || now - state.lastActivity >= quietSeconds {
                ready.append(ReadyFolder(relative: relative, path: path, files: files, marker: marker))
            }
        }
        return ready
    }

    /// After a claim: the folder starts afresh (files that arrive later form a new batch).
    public func claimed(_ folder: ReadyFolder, now: Double) {
        if let marker = folder.marker { unlink(marker) }
        folders[folder.relative] = nil
        scanFolder(folder.relative, now: now, fresh: false)
    }

    /// How many folders hold files not yet claimed.
    public var pendingFolders: Int { folders.values.filter { $0.signature.count > 0 }.count }

    // MARK: Internals

    private func absolute(_ relative: String) -> String { relative.isEmpty ? root : "\(root)/\(relative)" }

    private func addWatches(under relative: String) {
        let path = absolute(relative)
        let mask = UInt32(
            IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR)
        let wd = inotify_add_watch(descriptor, path, mask)
        if wd >= 0 {
            watches[wd] = relative
        } else {
            // Not the folder's name: storescp may name it after the patient.
            logger.warning("cannot watch folder; the periodic rescan still covers it", metadata: ["errno": "\(errno)"])
        }
        for name in FileSystem.entries(path, repairingNames: true) where !name.hasPrefix(".") {
            let child = relative.isEmpty ? name : "\(relative)/\(name)"
            if FileSystem.info(absolute(child))?.isDirectory == true { addWatches(under: child) }
        }
    }

    private func rescan(now: Double) {
        lastRescan = now
        scanTree("", now: now)
    }

    private func scanTree(_ relative: String, now: Double) {
        scanFolder(relative, now: now, fresh: false)
        for name in FileSystem.entries(absolute(relative), repairingNames: true) where !name.hasPrefix(".") {
            let child = relative.isEmpty ? name : "\(relative)/\(name)"
            if FileSystem.info(absolute(child))?.isDirectory == true { scanTree(child, now: now) }
        }
    }

    /// Records a folder's signature; a change since the last scan (or `fresh`, an inotify event)
    /// counts as activity now.
    private func scanFolder(_ relative: String, now: Double, fresh: Bool) {
        let (files, _) = listing(absolute(relative))
        var signature = Signature()
        for file in files {
            guard let info = FileSystem.info(file) else { continue }
            signature.count += 1
            signature.bytes += info.size
            signature.latest = max(signature.latest, info.modified)
        }
        if var state = folders[relative] {
            if fresh || state.signature != signature {
                state.signature = signature
                state.lastActivity = now
            }
            folders[relative] = state
        } else if signature.count > 0 || fresh {
            // First sight (start-up or a new folder): wait a full quiet period from now.
            folders[relative] = FolderState(lastActivity: now, signature: signature)
        }
    }

    /// Regular, visible files of a folder, and the marker if present.
    private func listing(_ path: String) -> (files: [String], marker: String?) {
        var files: [String] = []
        var marker: String?
        for name in FileSystem.entries(path, repairingNames: true) where !name.hasPrefix(".") {
            let full = "\(path)/\(name)"
            guard FileSystem.info(full)?.isRegular == true else { continue }
            if !markerFile.isEmpty && name == markerFile { marker = full } else { files.append(full) }
        }
        return (files, marker)
    }
}
