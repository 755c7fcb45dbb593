import Foundation
import ModelSupervisor

/// The keys clients must present when `api.requireAuth` is on.
struct GatewayKeys: Sendable {
    private let keys: [[UInt8]]

    /// Reads `api.apiKeyFile` (one key per line, `#` comments) and `AI_SYSADMIN_API_KEYS` (comma-separated).
    init(configuration: GatewayConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var keys: [String] = []
        if let file = configuration.apiKeyFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError(keyPath: "api.apiKeyFile", "cannot read \(file)")
            }
            keys += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        keys += (environment["AI_SYSADMIN_API_KEYS"] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if configuration.requireAuth, keys.isEmpty {
            throw ConfigurationError(keyPath: "api.requireAuth", "is true but no key is configured; set api.apiKeyFile or AI_SYSADMIN_API_KEYS")
        }
        self.keys = keys.map { Array($0.utf8) }
    }

    /// Compares against every key without an early exit, so timing does not reveal how much of a key matched.
    func accepts(_ presented: String) -> Bool {
        let candidate = Array(presented.utf8)
        var matched = false
        for key in keys {
            var difference = UInt8(truncatingIfNeeded: key.count ^ candidate.count)
            for index in 0..<key.count {
                difference |= key[index] ^ (index < candidate.count ? candidate[index] : 0)
            }
            matched = matched || difference == 0
        }
        return matched
    }
}
