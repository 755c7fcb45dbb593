import FoundationEssentials

/// The daemon's whole configuration: one JSON file (the NixOS module generates it), every field defaulted.
public struct DaemonConfiguration: Sendable, Equatable {
    /// Holds the control socket, API keys, child records and (later) the store.
    public var stateDirectory = "/var/lib/ai-sysadmin"
    /// Where model names resolve; defaults to `<stateDirectory>/models`.
    public var modelDirectory: String?
    /// The `llama-server` binary: a path, or a name looked up in `PATH`.
    public var llamaServer = "llama-server"
    public var health = HealthConfiguration()
    public var restart = RestartConfiguration()
    public var models = ModelsConfiguration()
    public var api = GatewayConfiguration()
    public var monitoring = MonitoringConfiguration()
    /// What the executor may do without asking (observe, suggest, auto-safe, auto-full).
    public var autonomyLevel = AutonomyLevel.suggest
    public var autonomy = AutonomyConfiguration()
    public var notifications = NotificationConfiguration()
    public var knowledge = KnowledgeConfiguration()
    public var chat = ChatConfiguration()
    public var console = DoorConfiguration()
    public var mcp = DoorConfiguration()
    public var store = StoreConfiguration()

    public init() {}

    /// The JSON-lines copy of the audit table.
    public var auditLogPath: String {
        autonomy.auditLog ?? FilePaths.join(stateDirectory, "audit.jsonl")
    }

    /// The daemon's agent (OpenAI-compatible HTTP over a Unix socket), for the gateway and the CLI.
    public var agentSocketPath: String {
        FilePaths.join(stateDirectory, "agent.sock")
    }

    /// The embedded store the daemon writes and the CLI reads.
    public var storePath: String {
        FilePaths.join(stateDirectory, "ai-sysadmin.sqlite")
    }

    public var resolvedModelDirectory: String {
        modelDirectory ?? FilePaths.join(stateDirectory, "models")
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case stateDirectory, modelDirectory, llamaServer, health, restart, models, api, monitoring, autonomyLevel, autonomy, notifications, knowledge, chat, console, mcp, store
    }

    /// Reads and decodes `path`; errors name the key and the problem.
    public static func load(from path: String) throws(ConfigurationError) -> DaemonConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError(keyPath: "", "cannot read configuration file \(path): \(fileProblem(error))")
        }
        return try decode(data, file: path)
    }

    public static func decode(_ data: Data, file: String = "configuration") throws(ConfigurationError) -> DaemonConfiguration {
        do {
            return try JSONDecoder().decode(DaemonConfiguration.self, from: data)
        } catch {
            throw ConfigurationError.from(error, file: file)
        }
    }

    /// Pretty JSON with every field, as `config example` prints it.
    public func encodedJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs of strings and numbers cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

}

extension DaemonConfiguration: Codable {
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stateDirectory = try c.decode(.stateDirectory, default: stateDirectory)
        modelDirectory = try c.decodeIfPresent(String.self, forKey: .modelDirectory)
        llamaServer = try c.decode(.llamaServer, default: llamaServer)
        health = try c.decode(.health, default: health)
        restart = try c.decode(.restart, default: restart)
        models = try c.decode(.models, default: models)
        api = try c.decode(.api, default: api)
        monitoring = try c.decode(.monitoring, default: monitoring)
        autonomyLevel = try c.decode(.autonomyLevel, default: autonomyLevel)
        autonomy = try c.decode(.autonomy, default: autonomy)
        notifications = try c.decode(.notifications, default: notifications)
        knowledge = try c.decode(.knowledge, default: knowledge)
        chat = try c.decode(.chat, default: chat)
        console = try c.decode(.console, default: console)
        mcp = try c.decode(.mcp, default: mcp)
        store = try c.decode(.store, default: store)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(stateDirectory, forKey: .stateDirectory)
        try c.encode(modelDirectory, forKey: .modelDirectory)
        try c.encode(llamaServer, forKey: .llamaServer)
        try c.encode(health, forKey: .health)
        try c.encode(restart, forKey: .restart)
        try c.encode(models, forKey: .models)
        try c.encode(api, forKey: .api)
        try c.encode(monitoring, forKey: .monitoring)
        try c.encode(autonomyLevel, forKey: .autonomyLevel)
        try c.encode(autonomy, forKey: .autonomy)
        try c.encode(notifications, forKey: .notifications)
        try c.encode(knowledge, forKey: .knowledge)
        try c.encode(chat, forKey: .chat)
        try c.encode(console, forKey: .console)
        try c.encode(mcp, forKey: .mcp)
        try c.encode(store, forKey: .store)
    }
}

/// `/health` probing of every server.
public struct HealthConfiguration: Sendable, Equatable, Codable {
    /// Between probes of a Ready server.
    public var intervalSeconds = 5.0
    /// A probe that takes longer counts as a miss.
    public var timeoutSeconds = 3.0
    /// Consecutive misses before a Ready server counts as hung and is replaced.
    public var missesBeforeRestart = 3

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case intervalSeconds, timeoutSeconds, missesBeforeRestart }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        intervalSeconds = try c.decode(.intervalSeconds, default: intervalSeconds)
        timeoutSeconds = try c.decode(.timeoutSeconds, default: timeoutSeconds)
        missesBeforeRestart = try c.decode(.missesBeforeRestart, default: missesBeforeRestart)
    }
}

/// Restarting failed servers.
public struct RestartConfiguration: Sendable, Equatable, Codable {
    /// The first restart comes almost at once: a crashed server should be back in its own load time.
    public var initialBackoffSeconds = 0.1
    public var maximumBackoffSeconds = 60.0
    /// Consecutive failures that mark a server Failed (it is still retried, at the maximum backoff).
    public var crashLoopFailures = 5
    /// Between SIGTERM and SIGKILL when stopping a server.
    public var stopGraceSeconds = 10.0

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case initialBackoffSeconds, maximumBackoffSeconds, crashLoopFailures, stopGraceSeconds
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        initialBackoffSeconds = try c.decode(.initialBackoffSeconds, default: initialBackoffSeconds)
        maximumBackoffSeconds = try c.decode(.maximumBackoffSeconds, default: maximumBackoffSeconds)
        crashLoopFailures = try c.decode(.crashLoopFailures, default: crashLoopFailures)
        stopGraceSeconds = try c.decode(.stopGraceSeconds, default: stopGraceSeconds)
    }
}

/// The three servers, keyed by layer name in the file.
public struct ModelsConfiguration: Sendable, Equatable, Codable {
    public var trigger = ModelServerConfiguration.defaults(for: .trigger)
    public var review = ModelServerConfiguration.defaults(for: .review)
    public var meta = ModelServerConfiguration.defaults(for: .meta)

    public init() {}

    public subscript(layer: ModelLayer) -> ModelServerConfiguration {
        get {
            switch layer {
            case .trigger: trigger
            case .review: review
            case .meta: meta
            }
        }
        set {
            switch layer {
            case .trigger: trigger = newValue
            case .review: review = newValue
            case .meta: meta = newValue
            }
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case trigger, review, meta }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        for layer in ModelLayer.allCases {
            let key = CodingKeys(rawValue: layer.rawValue)!
            guard c.contains(key) else { continue }
            self[layer] = try ModelServerConfiguration.decode(
                from: try c.superDecoder(forKey: key), over: .defaults(for: layer))
        }
    }
}

/// Layer 1 in the daemon: what it watches and how it remembers.
public struct MonitoringConfiguration: Sendable, Equatable, Codable {
    public var enable = true
    /// Follow the systemd journal (sd_journal). Where the host has none (a container), the daemon says so once.
    public var journal = true
    /// Read the journal files in this directory instead of the local system journal.
    public var journalDirectory: String?
    /// Log files to follow like `tail -F` (absolute paths), besides the journal (or instead of it, where a
    /// host has none).
    public var files: [String] = []
    /// New templates per trigger model request.
    public var templateBatch = 8
    /// A new template waits at most this long for others to share its request.
    public var flushSeconds = 2.0
    /// A line whose template has no verdict yet waits at most this long (the trigger model loading, down or slow);
    /// then the rules decide it, and it is judged again when the verdict comes (a late event if it deserves one).
    public var holdSeconds = 60.0
    /// How long a verdict is trusted before its template is asked about again.
    public var verdictDays = 7.0
    /// Events older than this are deleted.
    public var eventRetentionDays = 30.0
    /// Operator rules: a line whose message matches `pattern` gets at least this verdict, model or not.
    public var rules: [Rule] = []
    /// Changes to the built-in signatures (Layer 1's floor the model cannot talk a line below), by id: switch one
    /// off, or change its minimum severity or whether it escalates. `ai-sysadmin signatures` lists them.
    public var signatures: [String: SignatureOverride] = [:]
    /// Bursts of error lines per unit and per host, against their own recent rate.
    public var errorRate = ErrorRate()
    public var metrics = Metrics()
    public var review = Review()

    /// One built-in signature as the operator wants it.
    public struct SignatureOverride: Sendable, Equatable, Codable {
        public var enable = true
        /// The minimum severity a matching line gets instead of the built-in one.
        public var severity: String?
        public var escalate: Bool?

        public init(enable: Bool = true, severity: String? = nil, escalate: Bool? = nil) {
            self.enable = enable
            self.severity = severity
            self.escalate = escalate
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case enable, severity, escalate }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enable = try c.decode(.enable, default: enable)
            severity = try c.decodeIfPresent(String.self, forKey: .severity)
            escalate = try c.decodeIfPresent(Bool.self, forKey: .escalate)
        }
    }

    /// An event when a unit (or the whole host) logs errors — journal priority 3 or graver, or lines judged error
    /// or worse, or authentication failures — at `factor` times its usual rate and at least `minimumBurst` within
    /// `windowSeconds`; one event per burst.
    public struct ErrorRate: Sendable, Equatable, Codable {
        public var enable = true
        public var windowSeconds = 60.0
        public var minimumBurst = 10
        public var factor = 5.0

        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable { case enable, windowSeconds, minimumBurst, factor }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enable = try c.decode(.enable, default: enable)
            windowSeconds = try c.decode(.windowSeconds, default: windowSeconds)
            minimumBurst = try c.decode(.minimumBurst, default: minimumBurst)
            factor = try c.decode(.factor, default: factor)
        }
    }

    /// Layer 3 in the daemon: every `intervalSeconds`, and `escalationDelaySeconds` after an escalating event
    /// (so a burst gives one review, not many).
    public struct Review: Sendable, Equatable, Codable {
        public var enable = true
        public var intervalSeconds = 600.0
        public var escalationDelaySeconds = 30.0

        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable { case enable, intervalSeconds, escalationDelaySeconds }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enable = try c.decode(.enable, default: enable)
            intervalSeconds = try c.decode(.intervalSeconds, default: intervalSeconds)
            escalationDelaySeconds = try c.decode(.escalationDelaySeconds, default: escalationDelaySeconds)
        }
    }

    /// Host metrics from /proc and statvfs with thresholds: over for `samples` readings in a row raises one
    /// event, until the metric is back under.
    public struct Metrics: Sendable, Equatable, Codable {
        public var enable = true
        public var intervalSeconds = 15.0
        public var cpuPercent = 95.0
        public var memoryPercent = 90.0
        public var swapPercent = 50.0
        public var diskPercent = 90.0
        public var loadPerCPU = 2.0
        public var samples = 3

        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enable, intervalSeconds, cpuPercent, memoryPercent, swapPercent, diskPercent, loadPerCPU, samples
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enable = try c.decode(.enable, default: enable)
            intervalSeconds = try c.decode(.intervalSeconds, default: intervalSeconds)
            cpuPercent = try c.decode(.cpuPercent, default: cpuPercent)
            memoryPercent = try c.decode(.memoryPercent, default: memoryPercent)
            swapPercent = try c.decode(.swapPercent, default: swapPercent)
            diskPercent = try c.decode(.diskPercent, default: diskPercent)
            loadPerCPU = try c.decode(.loadPerCPU, default: loadPerCPU)
            samples = try c.decode(.samples, default: samples)
        }
    }

    public struct Rule: Sendable, Equatable, Codable {
        /// A regular expression, matched against the message.
        public var pattern: String
        public var severity: String
        public var category = "other"
        public var escalate = false
        public var summary: String

        public static let severities = ["normal", "info", "warning", "error", "critical"]
        public static let categories = ["service", "resource", "security", "network", "disk", "hardware", "other"]

        public init(pattern: String, severity: String, category: String = "other", escalate: Bool = false, summary: String) {
            self.pattern = pattern
            self.severity = severity
            self.category = category
            self.escalate = escalate
            self.summary = summary
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case pattern, severity, category, escalate, summary }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            pattern = try c.decode(String.self, forKey: .pattern)
            severity = try c.decode(String.self, forKey: .severity)
            category = try c.decode(.category, default: category)
            escalate = try c.decode(.escalate, default: escalate)
            summary = try c.decode(String.self, forKey: .summary)
        }
    }

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enable, journal, journalDirectory, files, templateBatch, flushSeconds, holdSeconds, verdictDays, eventRetentionDays, rules
        case signatures, errorRate, metrics, review
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enable = try c.decode(.enable, default: enable)
        journal = try c.decode(.journal, default: journal)
        journalDirectory = try c.decodeIfPresent(String.self, forKey: .journalDirectory)
        files = try c.decode(.files, default: files)
        templateBatch = try c.decode(.templateBatch, default: templateBatch)
        flushSeconds = try c.decode(.flushSeconds, default: flushSeconds)
        holdSeconds = try c.decode(.holdSeconds, default: holdSeconds)
        verdictDays = try c.decode(.verdictDays, default: verdictDays)
        eventRetentionDays = try c.decode(.eventRetentionDays, default: eventRetentionDays)
        rules = try c.decode(.rules, default: rules)
        signatures = try c.decode(.signatures, default: signatures)
        errorRate = try c.decode(.errorRate, default: errorRate)
        metrics = try c.decode(.metrics, default: metrics)
        review = try c.decode(.review, default: review)
    }
}
