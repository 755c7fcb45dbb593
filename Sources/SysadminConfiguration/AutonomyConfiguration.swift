import FoundationEssentials

/// How far the system may act on its own (config `autonomyLevel`).
public enum AutonomyLevel: String, Sendable, CaseIterable, Codable {
    /// Nothing executes; proposals are recorded.
    case observe
    /// Every action waits for an operator's approval.
    case suggest
    /// Low-risk actions execute; the rest wait for approval.
    case autoSafe = "auto-safe"
    /// Low- and medium-risk actions execute; high-risk ones wait for approval.
    case autoFull = "auto-full"

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let level = AutonomyLevel(rawValue: text) else {
            throw ConfigurationError(
                keyPath: decoder.codingPath.dottedPath,
                "'\(text.prefix(40))' is not an autonomy level; use one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = level
    }
}

/// The executor's limits: budgets, approval expiry, timeouts, protected units, where the audit log goes.
public struct AutonomyConfiguration: Sendable, Equatable, Codable {
    /// Added to the built-in list (remote access, networking, firewalls, dbus, every systemd-* unit, logins, the
    /// project's own units): names, or patterns with `*` (`myapp-*.service`). Automation never touches these.
    public var protectedUnits: [String] = []
    public var restartsPerUnitPerHour = 3
    public var actionsPerHour = 20
    /// A queued approval not decided within this many hours expires.
    public var approvalExpiryHours = 24.0
    /// One action's whole run, verification included.
    public var actionTimeoutSeconds = 120.0
    /// The JSON-lines copy of the audit table; null means `<stateDirectory>/audit.jsonl`.
    public var auditLog: String?
    /// The D-Bus address systemd's manager is reached at; null means the system bus.
    public var systemdBusAddress: String?
    /// The journal an automatic vacuum must leave: a `vacuum_journal` that keeps fewer days or fewer megabytes is
    /// high risk (a person decides), because deleted journal files are the evidence an operator needs.
    public var journalFloorDays = 7
    public var journalFloorMegabytes = 500

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case protectedUnits, restartsPerUnitPerHour, actionsPerHour, approvalExpiryHours, actionTimeoutSeconds, auditLog, systemdBusAddress
        case journalFloorDays, journalFloorMegabytes
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        protectedUnits = try c.decode(.protectedUnits, default: protectedUnits)
        restartsPerUnitPerHour = try c.decode(.restartsPerUnitPerHour, default: restartsPerUnitPerHour)
        actionsPerHour = try c.decode(.actionsPerHour, default: actionsPerHour)
        approvalExpiryHours = try c.decode(.approvalExpiryHours, default: approvalExpiryHours)
        actionTimeoutSeconds = try c.decode(.actionTimeoutSeconds, default: actionTimeoutSeconds)
        auditLog = try c.decodeIfPresent(String.self, forKey: .auditLog)
        systemdBusAddress = try c.decodeIfPresent(String.self, forKey: .systemdBusAddress)
        journalFloorDays = try c.decode(.journalFloorDays, default: journalFloorDays)
        journalFloorMegabytes = try c.decode(.journalFloorMegabytes, default: journalFloorMegabytes)
    }
}

/// Where notifications go: Gotify, a generic JSON webhook, both or neither.
public struct NotificationConfiguration: Sendable, Equatable, Codable {
    public var gotify: Gotify?
    public var webhook: Webhook?
    /// The first retry waits this long; each next one twice as long, up to `maximumRetrySeconds`.
    public var initialRetrySeconds = 5.0
    public var maximumRetrySeconds = 600.0
    /// A notification still undelivered after this many attempts is logged and given up.
    public var maximumAttempts = 8

    public init() {}

    public struct Gotify: Sendable, Equatable, Codable {
        /// The server, e.g. `https://gotify.example.org`; messages go to `<url>/message`.
        public var url: String
        /// A file holding the application token (kept out of the configuration and the Nix store).
        public var tokenFile: String
        public var priority = 8

        public init(url: String, tokenFile: String) {
            self.url = url
            self.tokenFile = tokenFile
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case url, tokenFile, priority }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decode(String.self, forKey: .url)
            tokenFile = try c.decode(String.self, forKey: .tokenFile)
            priority = try c.decode(.priority, default: priority)
        }
    }

    public struct Webhook: Sendable, Equatable, Codable {
        /// Receives a POST with one JSON object per notification.
        public var url: String

        public init(url: String) { self.url = url }

        enum CodingKeys: String, CodingKey, CaseIterable { case url }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            url = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .url)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case gotify, webhook, initialRetrySeconds, maximumRetrySeconds, maximumAttempts }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        gotify = try c.decodeIfPresent(Gotify.self, forKey: .gotify)
        webhook = try c.decodeIfPresent(Webhook.self, forKey: .webhook)
        initialRetrySeconds = try c.decode(.initialRetrySeconds, default: initialRetrySeconds)
        maximumRetrySeconds = try c.decode(.maximumRetrySeconds, default: maximumRetrySeconds)
        maximumAttempts = try c.decode(.maximumAttempts, default: maximumAttempts)
    }
}

/// The knowledge base's optional semantic re-ranking: full-text (BM25) candidates re-ordered by cosine similarity
/// of embeddings from an OpenAI-compatible `/v1/embeddings` endpoint (e.g. `llama-server --embeddings`).
public struct KnowledgeConfiguration: Sendable, Equatable, Codable {
    public var embeddings: Embeddings?

    public init() {}

    public struct Embeddings: Sendable, Equatable, Codable {
        /// The server's base URL, e.g. `http://127.0.0.1:40084`.
        public var url: String
        public var model: String?
        public var apiKeyFile: String?

        public init(url: String, model: String? = nil, apiKeyFile: String? = nil) {
            self.url = url
            self.model = model
            self.apiKeyFile = apiKeyFile
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case url, model, apiKeyFile }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decode(String.self, forKey: .url)
            model = try c.decodeIfPresent(String.self, forKey: .model)
            apiKeyFile = try c.decodeIfPresent(String.self, forKey: .apiKeyFile)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case embeddings }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        embeddings = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Embeddings.self, forKey: .embeddings)
    }
}

/// Chat with the sysadmin: the daemon's agent, reached through the gateway's agent model id
/// (`api.agentModelId`) or `ai-sysadmin ask` / `chat`, over a Unix socket in the state directory.
public struct ChatConfiguration: Sendable, Equatable, Codable {
    public var enable = true
    /// Tool calls the agent may make for one reply before it must answer.
    public var maxToolSteps = 4
    /// The longest reply, in tokens.
    public var maxAnswerTokens = 768

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case enable, maxToolSteps, maxAnswerTokens }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enable = try c.decode(.enable, default: enable)
        maxToolSteps = try c.decode(.maxToolSteps, default: maxToolSteps)
        maxAnswerTokens = try c.decode(.maxAnswerTokens, default: maxAnswerTokens)
    }
}
