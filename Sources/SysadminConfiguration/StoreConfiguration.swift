import FoundationEssentials

/// Where the layers' memory lives. SQLite (`sqlite`, the default) is the host's own file; `postgresql` keeps that file
/// — it is still the store every layer reads and writes, and the spool while the fleet's database is away — and
/// publishes it to one PostgreSQL database for the whole fleet (`ai-sysadmin fleet …`).
public struct StoreConfiguration: Sendable, Equatable, Codable {
    public enum Backend: String, Sendable, Codable, CaseIterable { case sqlite, postgresql }

    public var backend = Backend.sqlite
    public var postgresql: PostgreSQLConfiguration?

    public init() {}

    /// The fleet's database when this host publishes to one (`backend` `postgresql`).
    public var fleet: PostgreSQLConfiguration? { backend == .postgresql ? postgresql : nil }

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
    /// `postgresql://ROLE@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…]`, without a password. A host's role is
    /// `ais_host_<id>`; its id is what the fleet calls it. TLS is on unless `sslmode=disable` says otherwise.
    public var url: String
    /// The role's password, one line (a credential: never in the URL, never in argv).
    public var passwordFile: String
    /// Seconds between two publications (new events and audit lines, a heartbeat).
    public var publishIntervalSeconds = 2.0
    /// Whether Layer 1 uses (and offers) the verdicts of other hosts with the same trigger model: one model call per
    /// kind of line for the fleet, at the price of trusting the other hosts' models as this host's own.
    public var shareVerdicts = true

    public init(url: String, passwordFile: String) {
        self.url = url
        self.passwordFile = passwordFile
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case url, passwordFile, publishIntervalSeconds, shareVerdicts }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        passwordFile = try c.decode(String.self, forKey: .passwordFile)
        publishIntervalSeconds = try c.decode(.publishIntervalSeconds, default: publishIntervalSeconds)
        shareVerdicts = try c.decode(.shareVerdicts, default: shareVerdicts)
    }

    /// The URL's parts.
    public struct Address: Sendable, Equatable {
        public var role: String
        public var host: String
        public var port: Int
        public var database: String
        public var tls: TLSMode

        public init(role: String, host: String, port: Int, database: String, tls: TLSMode = .verifyFull(rootCertificates: nil)) {
            self.role = role
            self.host = host
            self.port = port
            self.database = database
            self.tls = tls
        }
    }

    /// How the connection is protected, as libpq's `sslmode` names it — but `verify-full` when the URL says nothing:
    /// the connection carries the role's password proof and every host's logs.
    public enum TLSMode: Sendable, Equatable {
        /// Plain TCP (`sslmode=disable`): only on a network or tunnel that protects it.
        case disable
        /// Encrypted, the server's certificate not checked (`sslmode=require`): against eavesdroppers, not impostors.
        case require
        /// The certificate checked against the roots (`sslrootcert`, else the system's), not its name (`verify-ca`).
        case verifyCA(rootCertificates: String?)
        /// The certificate checked against the roots and the URL's host name (`verify-full`, the default).
        case verifyFull(rootCertificates: String?)
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
        guard components.fragment == nil else { return problem("has a fragment (#…)") }
        let tls: TLSMode
        switch Self.tlsMode(components.queryItems ?? []) {
        case .success(let mode): tls = mode
        case .failure(.problem(let message)): return problem(message)
        }
        guard let role = components.user, !role.isEmpty else { return problem("names no role (postgresql://ROLE@HOST/DATABASE)") }
        guard let host = components.host, !host.isEmpty else { return problem("names no host") }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty, !database.contains("/") else { return problem("names no database (…/DATABASE)") }
        return .success(Address(role: role, host: host, port: components.port ?? 5432, database: database, tls: tls))
    }

    private enum Refusal: Error { case problem(String) }

    /// `sslmode` and `sslrootcert`, the only options read; any other is refused rather than ignored.
    private static func tlsMode(_ options: [URLQueryItem]) -> Result<TLSMode, Refusal> {
        var mode = "verify-full", roots: String?
        for option in options {
            let value = option.value ?? ""
            switch option.name {
            case "sslmode": mode = value
            case "sslrootcert":
                guard value.hasPrefix("/") else { return .failure(.problem("sslrootcert '\(value.prefix(200))' must be an absolute path")) }
                roots = value
            default:
                return .failure(.problem("has the option '\(option.name.prefix(64))'; only sslmode and sslrootcert are read"))
            }
        }
        switch mode {
        case "verify-full": return .success(.verifyFull(rootCertificates: roots))
        case "verify-ca": return .success(.verifyCA(rootCertificates: roots))
        case "require", "disable":
            guard roots == nil else { return .failure(.problem("sslrootcert is read only with sslmode=verify-ca or verify-full")) }
            return .success(mode == "require" ? .require : .disable)
        default:
            return .failure(.problem("sslmode '\(mode.prefix(64))' is not one of disable, require, verify-ca, verify-full"))
        }
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
