import FoundationEssentials
import Glibc
import Synchronization

/// The random key a managed server requires: loopback is reachable by every local user, so without it any
/// of them could use (or exhaust) the models.
public enum ModelAPIKey {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `<stateDirectory>/keys/<layer>.key`.
    public static func file(layer: ModelLayer, stateDirectory: String) -> String {
        FilePaths.join(stateDirectory, "keys/\(layer.rawValue).key")
    }

    /// Writes a fresh key to `<stateDirectory>/keys/<layer>.key` and returns it.
    public static func generate(layer: ModelLayer, stateDirectory: String) throws -> (key: String, file: String) {
        let file = file(layer: layer, stateDirectory: stateDirectory)
        let directory = FilePaths.directory(of: file)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        return (try createKeyFile(at: file), file)
    }

    /// Writes a fresh 256-bit key (64 hex digits and a newline) to `file` with mode 0600, replacing it
    /// atomically, and returns it. Also what `ai-sysadmin model-key` runs for the systemd units.
    public static func createKeyFile(at file: String) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let hexDigits = Array("0123456789abcdef")
        let key = String((0..<32).flatMap { _ in
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            return [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]]
        })
        // Create with 0600 before the key is written, so it is never readable by others, not even briefly.
        let temporary = file + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot write \(file): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let bytes = Array((key + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, file) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(description: "cannot write \(file): \(reason)")
        }
        // This process's callers use the new key at once; other processes see it within a second.
        _ = cache.withLock { $0.removeValue(forKey: file) }
        return key
    }

    /// The first non-empty, non-comment line of `path`.
    public static func read(from path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure(description: "cannot read API key file \(path)")
        }
        guard let line = text.split(whereSeparator: \.isNewline).map({ $0.trimmingBlanks() })
            .first(where: { !$0.isEmpty && !$0.hasPrefix("#") })
        else { throw Failure(description: "API key file \(path) holds no key") }
        return line
    }

    private struct CachedKey {
        var modified: Date
        var key: String
        var checked: ContinuousClock.Instant
    }

    private static let cache = Mutex<[String: CachedKey]>([:])

    /// The key in `file` as it is now, with the file looked at no more than once a second: the gateway asks on every
    /// request, and a server restarted with a new key takes seconds to load its model, so a key a second old is
    /// never the one it refuses.
    static func current(in file: String) -> String? {
        let now = ContinuousClock.now
        let cached = cache.withLock { $0[file] }
        if let cached, now - cached.checked < .seconds(1) { return cached.key }
        guard let modified = (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date else {
            return nil
        }
        if let cached, cached.modified == modified {
            cache.withLock { $0[file]?.checked = now }
            return cached.key
        }
        guard let key = try? read(from: file) else { return nil }
        cache.withLock { $0[file] = CachedKey(modified: modified, key: key, checked: now) }
        return key
    }
}
