import FoundationEssentials
import HTTPTypes
import SysadminConfiguration

/// The keys clients present: `api.apiKeyFile` (and `AI_SYSADMIN_API_KEYS`) for access when `api.requireAuth` is on,
/// `api.operatorKeyFile` for access and for acting as an operator in chat.
struct GatewayKeys: Sendable {
    private let keys: [[UInt8]]
    private let operatorKeys: [[UInt8]]

    /// Reads the key files (one key per line, `#` comments) and `AI_SYSADMIN_API_KEYS` (comma-separated).
    init(configuration: GatewayConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var keys: [String] = []
        if let file = configuration.apiKeyFile { keys += try Self.read(file, key: "api.apiKeyFile") }
        keys += (environment["AI_SYSADMIN_API_KEYS"] ?? "").split(separator: ",")
            .map { $0.trimmingBlanks() }.filter { !$0.isEmpty }
        let operatorKeys = try configuration.operatorKeyFile.map { try Self.read($0, key: "api.operatorKeyFile") } ?? []
        if configuration.requireAuth, keys.isEmpty, operatorKeys.isEmpty {
            throw ConfigurationError(keyPath: "api.requireAuth",
                                     "is true but no key is configured; set api.apiKeyFile, api.operatorKeyFile or AI_SYSADMIN_API_KEYS")
        }
        self.keys = keys.map { Array($0.utf8) }
        self.operatorKeys = operatorKeys.map { Array($0.utf8) }
    }

    private static func read(_ file: String, key: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ConfigurationError(keyPath: key, "cannot read \(file)")
        }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingBlanks() }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// The key a request presents: `Authorization: Bearer KEY` or `x-api-key: KEY`.
    static func presented(in headers: HTTPFields) -> String? {
        let bearer = headers[.authorization].flatMap { value -> String? in
            let parts = value.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "bearer" ? String(parts[1]) : nil
        }
        return bearer ?? headers[HTTPField.Name("x-api-key")!]
    }

    /// A client key or an operator key.
    func accepts(_ presented: String) -> Bool {
        Self.contains(keys, presented) || Self.contains(operatorKeys, presented)
    }

    func isOperator(_ presented: String) -> Bool {
        Self.contains(operatorKeys, presented)
    }

    /// Which operator key this is, counting from 1 in the file's order, for the audit log; nil for any other.
    func operatorNumber(_ presented: String) -> Int? {
        var number: Int?
        for (index, key) in operatorKeys.enumerated() where Self.contains([key], presented) && number == nil { number = index + 1 }
        return number
    }

    /// Compares against every key without an early exit, so timing does not reveal how much of a key matched, and
    /// exactly: a key with anything appended is not the key.
    static func contains(_ keys: [[UInt8]], _ presented: String) -> Bool {
        let candidate = Array(presented.utf8)
        var matched = false
        for key in keys {
            var difference: UInt8 = key.count == candidate.count ? 0 : 1
            for index in 0..<key.count {
                difference |= key[index] ^ (index < candidate.count ? candidate[index] : 0)
            }
            matched = matched || difference == 0
        }
        return matched
    }
}
