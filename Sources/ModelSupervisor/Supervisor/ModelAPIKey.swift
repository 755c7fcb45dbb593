import Foundation

/// The random key a managed server requires: loopback is reachable by every local user, so without it any
/// of them could use (or exhaust) the models.
public enum ModelAPIKey {
    /// `<stateDirectory>/keys/<layer>.key`.
    static func file(layer: ModelLayer, stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("keys/\(layer.rawValue).key")
    }

    /// Writes a fresh key to `<stateDirectory>/keys/<layer>.key` and returns it.
    static func generate(layer: ModelLayer, stateDirectory: String) throws -> (key: String, file: String) {
        let file = file(layer: layer, stateDirectory: stateDirectory)
        let directory = (file as NSString).deletingLastPathComponent
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
        guard fd >= 0 else { throw SpawnError(message: "cannot write \(file): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let bytes = Array((key + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, file) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw SpawnError(message: "cannot write \(file): \(reason)")
        }
        return key
    }

    /// The first non-empty, non-comment line of `path`.
    public static func read(from path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SpawnError(message: "cannot read API key file \(path)")
        }
        guard let line = text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { !$0.isEmpty && !$0.hasPrefix("#") })
        else { throw SpawnError(message: "API key file \(path) holds no key") }
        return line
    }
}
