import Foundation

/// Where the layers' memory lives. SQLite (`sqlite`, the default) is the host's own file; `postgresql` keeps that file
/// — it is still the store every layer reads and writes, and the spool while the fleet's database is away — and
/// publishes it to one PostgreSQL database for the whole fleet (`ai-sysadmin fleet …`).
public struct StoreConfiguration: Sendable, Equatable, Codable {
    public enum Backend: String, Sendable, Codable, CaseIterable { case sqlite, postgresql }

    public var backend = Backend.sqlite
    public var postgresql: PostgreSQLConfiguration?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case backend, postgresql }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        backend = try c.decode(.backend, default: backend)
        postgresql = try c.decodeIfPresent(PostgreSQLConfiguration.self, forKey: .postgresql)
    }
}

/// The fleet's database as one host (or an operator's command) reaches it.
public struct PostgreSQLConfiguration: Sendable, Equatable, Codable {
    /// `postgresql://ROLE@HOST[:PORT]/DATABASE`, without a password. A host's role is `ais_host_<id>`; its id is
    /// what the fleet calls it.
    public var url: String
    /// The role's password, one line (a credential: never in the URL, never in argv).
    public var passwordFile: String
    /// Seconds between two publications (new events and audit lines, a heartbeat).
    public var publishIntervalSeconds = 2.0

    public init(url: String, passwordFile: String) {
        self.url = url
        self.passwordFile = passwordFile
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case url, passwordFile, publishIntervalSeconds }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        passwordFile = try c.decode(String.self, forKey: .passwordFile)
        publishIntervalSeconds = try c.decode(.publishIntervalSeconds, default: publishIntervalSeconds)
    }

    /// The URL's parts.
    public struct Address: Sendable, Equatable {
        public var role: String
        public var host: String
        public var port: Int
        public var database: String
    }

    /// The URL taken apart, or why it cannot be.
    public var address: Result<Address, ConfigurationError> {
        func problem(_ message: String) -> Result<Address, ConfigurationError> {
            .failure(ConfigurationError(keyPath: "store.postgresql.url", message))
        }
        guard let components = URLComponents(string: url), ["postgresql", "postgres"].contains(components.scheme ?? "") else {
            return problem("'\(url.prefix(200))' is not a postgresql://ROLE@HOST[:PORT]/DATABASE URL")
        }
        guard components.password == nil else { return problem("holds a password; put it in store.postgresql.passwordFile") }
        guard components.query == nil, components.fragment == nil else {
            return problem("has options (?…); none are read: TLS and the rest are store.postgresql's own settings")
        }
        guard let role = components.user, !role.isEmpty else { return problem("names no role (postgresql://ROLE@HOST/DATABASE)") }
        guard let host = components.host, !host.isEmpty else { return problem("names no host") }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty, !database.contains("/") else { return problem("names no database (…/DATABASE)") }
        return .success(Address(role: role, host: host, port: components.port ?? 5432, database: database))
    }

    /// What a host's role name begins with; the rest is the host's id.
    public static let hostRolePrefix = "ais_host_"

    /// A host id: lower-case letters, digits and `_`, at most 40 — what follows ``hostRolePrefix`` in its role's name.
    public static func isValidHostID(_ id: String) -> Bool {
        (1...40).contains(id.utf8.count) && id.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    /// The host id a host's role stands for (`ais_host_web1` → `web1`), nil for any other role.
    public var hostID: String? {
        guard case .success(let address) = address, address.role.hasPrefix(Self.hostRolePrefix) else { return nil }
        return String(address.role.dropFirst(Self.hostRolePrefix.count))
    }
}
