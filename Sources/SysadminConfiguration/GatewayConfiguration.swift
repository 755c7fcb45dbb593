import FoundationEssentials

/// The `api` section: the OpenAI-compatible gateway `ai-sysadmin-api`, which forwards to the meta model.
public struct GatewayConfiguration: Sendable, Equatable {
    /// Standalone: the daemon starts `ai-sysadmin-api` itself and restarts it like a model server. Off when
    /// systemd runs the gateway as its own unit (NixOS), or when no gateway is wanted.
    public var supervised = true
    /// The gateway binary the daemon starts; `nil` means `ai-sysadmin-api` next to the daemon's own binary.
    public var executable: String?
    /// Loopback by default; the operator may open it (then `requireAuth` should be on).
    public var host = "127.0.0.1"
    public var port = 40083
    /// The model id clients ask for; it maps to the meta model's server.
    public var modelId = "ai-sysadmin-meta"
    /// The model id answered by the daemon's agent (the sysadmin with its tools and this host's context) rather
    /// than the raw meta model; `null` turns it off.
    public var agentModelId: String? = "ai-sysadmin"
    /// More ids that map to the same upstream (frontends sometimes insist on names like `gpt-4o`).
    public var aliases: [String] = []
    /// Every `/v1` route needs `Authorization: Bearer KEY` or `x-api-key: KEY`.
    public var requireAuth = false
    /// Keys, one per line (`#` comments allowed); systemd `LoadCredential` friendly. The environment variable
    /// `AI_SYSADMIN_API_KEYS` (comma-separated) adds more. Never from the command line.
    public var apiKeyFile: String?
    /// Keys that identify an operator (same format, a credential of its own): they open every `/v1` route like
    /// `apiKeyFile`'s, and a change asked for in chat with one may run as far as `autonomyLevel` allows. Chat
    /// from any other client — with another key, or none when `requireAuth` is off — only proposes: what it asks
    /// for waits for approval at every level.
    public var operatorKeyFile: String?
    /// Larger request bodies get 413 (read to their end and thrown away first, within bounds, so every client sees
    /// the answer).
    public var maxBodyBytes = 4 * 1024 * 1024
    /// The `max_tokens` a request to the meta model gets when it names none (Open WebUI's background tasks do
    /// not): a request without a limit can ramble for the whole context and hold the model's only slot. `null`
    /// leaves such requests unlimited.
    public var defaultMaxTokens: Int? = 2048
    /// Upstream requests in flight at most; `nil` means the meta server's slot count (`/props` total_slots).
    public var maxInFlight: Int?
    /// Requests waiting for a slot at most; more get 429.
    public var maxQueue = 64
    /// How long a request may wait for a slot before it gets 503.
    public var queueTimeoutSeconds = 30.0
    /// A client that sends nothing for this long while its request is incomplete (or on an idle keep-alive
    /// connection) is disconnected: slow clients cannot hold connections open. Responses being streamed are
    /// not affected.
    public var clientIdleTimeoutSeconds = 60.0
    /// The longest the meta model may stay silent mid-answer (a long prompt is processed before the first
    /// token, so be generous); then the client gets 504 or, mid-stream, an error event.
    public var upstreamIdleTimeoutSeconds = 300.0
    /// The longest a non-streamed answer may take as a whole.
    public var upstreamTimeoutSeconds = 600.0
    /// With `requireAuth`, whether `/metrics` needs a key too (a scraper without one can be allowed).
    public var metricsRequireAuth = true
    /// Origins browsers may call the gateway from (`https://chat.example.org`); `*` for any. None by default.
    public var corsOrigins: [String] = []

    public init() {}

    /// The binary the daemon starts: `executable`, or `ai-sysadmin-api` beside the running daemon.
    public var resolvedExecutable: String {
        if let executable { return executable }
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return FilePaths.join(FilePaths.directory(of: own), "ai-sysadmin-api")
    }

    /// The ids forwarded to the meta model.
    public var modelIds: [String] { [modelId] + aliases.filter { $0 != modelId } }

    /// Every id the gateway answers to: the agent's first, then the meta model's.
    public var advertisedModelIds: [String] { (agentModelId.map { [$0] } ?? []) + modelIds }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case supervised, executable, host, port, modelId, agentModelId, aliases, requireAuth, apiKeyFile, operatorKeyFile, maxBodyBytes, maxInFlight, maxQueue, queueTimeoutSeconds, corsOrigins, metricsRequireAuth, defaultMaxTokens
        case upstreamIdleTimeoutSeconds, upstreamTimeoutSeconds, clientIdleTimeoutSeconds
    }
}

extension GatewayConfiguration: Codable {
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        supervised = try c.decode(.supervised, default: supervised)
        executable = try c.decodeIfPresent(String.self, forKey: .executable)
        host = try c.decode(.host, default: host)
        port = try c.decode(.port, default: port)
        modelId = try c.decode(.modelId, default: modelId)
        if c.contains(.agentModelId) { agentModelId = try c.decodeIfPresent(String.self, forKey: .agentModelId) }
        aliases = try c.decode(.aliases, default: aliases)
        requireAuth = try c.decode(.requireAuth, default: requireAuth)
        apiKeyFile = try c.decodeIfPresent(String.self, forKey: .apiKeyFile)
        operatorKeyFile = try c.decodeIfPresent(String.self, forKey: .operatorKeyFile)
        maxBodyBytes = try c.decode(.maxBodyBytes, default: maxBodyBytes)
        if c.contains(.defaultMaxTokens) { defaultMaxTokens = try c.decodeIfPresent(Int.self, forKey: .defaultMaxTokens) }
        maxInFlight = try c.decodeIfPresent(Int.self, forKey: .maxInFlight)
        maxQueue = try c.decode(.maxQueue, default: maxQueue)
        queueTimeoutSeconds = try c.decode(.queueTimeoutSeconds, default: queueTimeoutSeconds)
        corsOrigins = try c.decode(.corsOrigins, default: corsOrigins)
        metricsRequireAuth = try c.decode(.metricsRequireAuth, default: metricsRequireAuth)
        upstreamIdleTimeoutSeconds = try c.decode(.upstreamIdleTimeoutSeconds, default: upstreamIdleTimeoutSeconds)
        upstreamTimeoutSeconds = try c.decode(.upstreamTimeoutSeconds, default: upstreamTimeoutSeconds)
        clientIdleTimeoutSeconds = try c.decode(.clientIdleTimeoutSeconds, default: clientIdleTimeoutSeconds)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(supervised, forKey: .supervised)
        try c.encode(executable, forKey: .executable)
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encode(modelId, forKey: .modelId)
        try c.encode(agentModelId, forKey: .agentModelId)
        try c.encode(aliases, forKey: .aliases)
        try c.encode(requireAuth, forKey: .requireAuth)
        try c.encode(apiKeyFile, forKey: .apiKeyFile)
        try c.encode(operatorKeyFile, forKey: .operatorKeyFile)
        try c.encode(maxBodyBytes, forKey: .maxBodyBytes)
        try c.encode(defaultMaxTokens, forKey: .defaultMaxTokens)
        try c.encode(maxInFlight, forKey: .maxInFlight)
        try c.encode(maxQueue, forKey: .maxQueue)
        try c.encode(queueTimeoutSeconds, forKey: .queueTimeoutSeconds)
        try c.encode(corsOrigins, forKey: .corsOrigins)
        try c.encode(metricsRequireAuth, forKey: .metricsRequireAuth)
        try c.encode(upstreamIdleTimeoutSeconds, forKey: .upstreamIdleTimeoutSeconds)
        try c.encode(upstreamTimeoutSeconds, forKey: .upstreamTimeoutSeconds)
        try c.encode(clientIdleTimeoutSeconds, forKey: .clientIdleTimeoutSeconds)
    }
}
