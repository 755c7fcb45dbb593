import FoundationEssentials

/// Checks a decoded configuration against the host: files, ports, exposure.
///
/// Issues scoped to one layer (its model file is missing) let the daemon run the other layers; the rest
/// stop `run` before anything starts. `config check` reports them all.
public struct ConfigurationValidator: Sendable {
    public struct Issue: Sendable, Equatable, CustomStringConvertible {
        public var keyPath: String
        public var message: String
        /// The layer this issue disables, or `nil` when the whole configuration is unusable.
        public var layer: ModelLayer?
        /// The issue concerns only the gateway (`api`): the daemon runs regardless.
        public var gatewayOnly = false

        public init(keyPath: String, message: String, layer: ModelLayer?, gatewayOnly: Bool = false) {
            self.keyPath = keyPath
            self.message = message
            self.layer = layer
            self.gatewayOnly = gatewayOnly
        }

        /// Whether the daemon must refuse to start over this issue.
        public var stopsTheDaemon: Bool { layer == nil && !gatewayOnly }

        public var description: String { "\(keyPath): \(message)" }
    }

    /// Key files arrive when the units start (systemd credentials, handed over by flags): at the NixOS module's
    /// build-time check neither the files nor the flags exist yet, and the module asserts the keys are configured.
    public var keyFilesArriveAtStart: Bool

    public init(keyFilesArriveAtStart: Bool = false) {
        self.keyFilesArriveAtStart = keyFilesArriveAtStart
    }

    private func unreadable(_ file: String) -> Bool {
        !keyFilesArriveAtStart && !FileManager.default.isReadableFile(atPath: file)
    }

    public func validate(_ config: DaemonConfiguration) -> [Issue] {
        var issues: [Issue] = []
        func global(_ key: String, _ message: String) { issues.append(Issue(keyPath: key, message: message, layer: nil)) }

        if !config.stateDirectory.hasPrefix("/") {
            global("stateDirectory", "'\(config.stateDirectory)' must be an absolute path")
        }
        if config.health.intervalSeconds <= 0 || config.health.timeoutSeconds <= 0 {
            global("health", "intervalSeconds and timeoutSeconds must be greater than 0")
        }
        if config.health.missesBeforeRestart < 1 {
            global("health.missesBeforeRestart", "\(config.health.missesBeforeRestart) must be at least 1")
        }
        let restart = config.restart
        if restart.initialBackoffSeconds <= 0 || restart.maximumBackoffSeconds < restart.initialBackoffSeconds {
            global("restart", "need 0 < initialBackoffSeconds (\(restart.initialBackoffSeconds)) <= maximumBackoffSeconds (\(restart.maximumBackoffSeconds))")
        }
        if restart.crashLoopFailures < 1 { global("restart.crashLoopFailures", "\(restart.crashLoopFailures) must be at least 1") }
        if restart.stopGraceSeconds < 0 { global("restart.stopGraceSeconds", "\(restart.stopGraceSeconds) must not be negative") }

        if config.store.backend == .postgresql {
            if let postgresql = config.store.postgresql {
                if case .failure(let problem) = postgresql.address { global(problem.keyPath, problem.message) }
                else if !(postgresql.hostID.map(PostgreSQLConfiguration.isValidHostID) ?? false) {
                    global("store.postgresql.url", "the role must be ais_host_<id>, the id of lower-case letters, digits and _ (at most 40): the host publishes as itself")
                }
                // Only its form: under systemd it is a credential that exists once the unit runs (the daemon says so then).
                if !postgresql.passwordFile.hasPrefix("/") {
                    global("store.postgresql.passwordFile", "'\(postgresql.passwordFile.prefix(200))' must be an absolute path")
                }
                if !(0.2...3600).contains(postgresql.publishIntervalSeconds) {
                    global("store.postgresql.publishIntervalSeconds", "\(postgresql.publishIntervalSeconds) must be between 0.2 and 3600")
                }
            } else {
                global("store.backend", "is postgresql but store.postgresql (url, passwordFile) is missing")
            }
        }

        let monitoring = config.monitoring
        if let directory = monitoring.journalDirectory, !directory.hasPrefix("/") {
            global("monitoring.journalDirectory", "'\(directory.prefix(200))' must be an absolute path")
        }
        for file in monitoring.files where !file.hasPrefix("/") {
            global("monitoring.files", "'\(file.prefix(200))' must be an absolute path")
        }
        if !(1...64).contains(monitoring.templateBatch) {
            global("monitoring.templateBatch", "\(monitoring.templateBatch) must be between 1 and 64")
        }
        for (index, rule) in monitoring.rules.enumerated() {
            let key = "monitoring.rules[\(index)]"
            if (try? Regex(rule.pattern)) == nil { global(key + ".pattern", "'\(rule.pattern.prefix(120))' is not a valid regular expression") }
            if !MonitoringConfiguration.Rule.severities.contains(rule.severity) {
                global(key + ".severity", "'\(rule.severity.prefix(40))' is not one of \(MonitoringConfiguration.Rule.severities.joined(separator: ", "))")
            }
            if !MonitoringConfiguration.Rule.categories.contains(rule.category) {
                global(key + ".category", "'\(rule.category.prefix(40))' is not one of \(MonitoringConfiguration.Rule.categories.joined(separator: ", "))")
            }
            if rule.summary.isEmpty || rule.summary.count > 120 { global(key + ".summary", "must be 1 to 120 characters") }
        }
        let metrics = monitoring.metrics
        if metrics.intervalSeconds <= 0 || metrics.samples < 1 || metrics.loadPerCPU <= 0 {
            global("monitoring.metrics", "intervalSeconds and loadPerCPU must be greater than 0 and samples at least 1")
        }
        for (name, value) in [("cpuPercent", metrics.cpuPercent), ("memoryPercent", metrics.memoryPercent),
                              ("swapPercent", metrics.swapPercent), ("diskPercent", metrics.diskPercent)] where !(0...100).contains(value) {
            global("monitoring.metrics.\(name)", "\(value) must be between 0 and 100")
        }
        for (id, override) in monitoring.signatures.sorted(by: { $0.key < $1.key }) {
            if let severity = override.severity, !MonitoringConfiguration.Rule.severities.contains(severity) {
                global("monitoring.signatures.\(String(id.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(64))).severity",
                       "'\(severity.prefix(40))' is not one of \(MonitoringConfiguration.Rule.severities.joined(separator: ", "))")
            }
        }
        let rate = monitoring.errorRate
        if rate.windowSeconds <= 0 || rate.minimumBurst < 1 || rate.factor < 1 {
            global("monitoring.errorRate", "windowSeconds must be greater than 0, minimumBurst at least 1, factor at least 1")
        }
        if monitoring.review.intervalSeconds <= 0 || monitoring.review.escalationDelaySeconds < 0 {
            global("monitoring.review", "intervalSeconds must be greater than 0 and escalationDelaySeconds not negative")
        }
        if monitoring.flushSeconds <= 0 || monitoring.holdSeconds <= 0 || monitoring.verdictDays <= 0 || monitoring.eventRetentionDays <= 0 {
            global("monitoring", "flushSeconds, holdSeconds, verdictDays and eventRetentionDays must be greater than 0")
        }

        let autonomy = config.autonomy
        for (index, unit) in autonomy.protectedUnits.enumerated() where !UnitName.isValidPattern(unit) {
            global("autonomy.protectedUnits[\(index)]",
                   "'\(unit.prefix(80))' is not a systemd unit name with its type suffix (nginx.service), nor such a name with '*' (myapp-*.service)")
        }
        if autonomy.journalFloorDays < 1 || autonomy.journalFloorMegabytes < 0 {
            global("autonomy", "journalFloorDays must be at least 1 and journalFloorMegabytes not negative")
        }
        if autonomy.restartsPerUnitPerHour < 0 || autonomy.actionsPerHour < 0 {
            global("autonomy", "restartsPerUnitPerHour and actionsPerHour must not be negative")
        }
        if autonomy.approvalExpiryHours <= 0 || autonomy.actionTimeoutSeconds <= 0 {
            global("autonomy", "approvalExpiryHours and actionTimeoutSeconds must be greater than 0")
        }
        if let log = autonomy.auditLog, !log.hasPrefix("/") {
            global("autonomy.auditLog", "'\(log.prefix(200))' must be an absolute path")
        }
        if let embeddings = config.knowledge.embeddings {
            if !Self.isHTTPURL(embeddings.url) { global("knowledge.embeddings.url", "'\(embeddings.url.prefix(200))' is not an http(s) URL") }
            if let file = embeddings.apiKeyFile, unreadable(file) {
                global("knowledge.embeddings.apiKeyFile", "\(file.prefix(200)) is not a readable file")
            }
        }
        if !(1...16).contains(config.chat.maxToolSteps) {
            global("chat.maxToolSteps", "\(config.chat.maxToolSteps) must be between 1 and 16")
        }
        if !(16...8192).contains(config.chat.maxAnswerTokens) {
            global("chat.maxAnswerTokens", "\(config.chat.maxAnswerTokens) must be between 16 and 8192")
        }
        let notifications = config.notifications
        if let gotify = notifications.gotify {
            if !Self.isHTTPURL(gotify.url) { global("notifications.gotify.url", "'\(gotify.url.prefix(200))' is not an http(s) URL") }
            if !gotify.tokenFile.hasPrefix("/") { global("notifications.gotify.tokenFile", "'\(gotify.tokenFile.prefix(200))' must be an absolute path") }
        }
        if let webhook = notifications.webhook, !Self.isHTTPURL(webhook.url) {
            global("notifications.webhook.url", "'\(webhook.url.prefix(200))' is not an http(s) URL")
        }
        if notifications.initialRetrySeconds <= 0 || notifications.maximumRetrySeconds < notifications.initialRetrySeconds
            || notifications.maximumAttempts < 1 {
            global("notifications", "initialRetrySeconds must be greater than 0, maximumRetrySeconds at least that, maximumAttempts at least 1")
        }

        let enabled = ModelLayer.allCases.filter { config.models[$0].enable }
        if enabled.contains(where: { config.models[$0].backend == .managed }),
           LlamaServerBinary.locate(config.llamaServer) == nil {
            global("llamaServer", "'\(config.llamaServer)' is not an executable file or a command in PATH; run scripts/setup, set LLAMA_SERVER, or pass --llama-server")
        }

        var seenPorts: [Int: ModelLayer] = [:]
        for layer in enabled {
            let server = config.models[layer]
            let key = "models.\(layer)"
            func add(_ field: String, _ message: String, fatal: Bool = true) {
                issues.append(Issue(keyPath: "\(key).\(field)", message: message, layer: fatal ? nil : layer))
            }
            switch server.backend {
            case .managed, .external:
                if !(1...65535).contains(server.port) {
                    add("port", "\(server.port) is not a TCP port (1–65535)")
                } else if let other = seenPorts[server.port] {
                    add("port", "\(server.port) is also the port of models.\(other); give each server its own port")
                } else {
                    seenPorts[server.port] = layer
                }
                if !server.allowNonLoopback, !Self.isLoopback(server.host) {
                    add("host", "'\(server.host)' is not a loopback address; model servers answer anyone who can reach them, so set models.\(layer).allowNonLoopback to true if that is really wanted, or use 127.0.0.1")
                }
            case .remote:
                guard let url = server.url, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    add("url", "backend 'remote' needs an http:// or https:// url (got \(server.url.map { "'\($0)'" } ?? "none"))")
                    break
                }
            }
            if server.backend == .managed {
                if server.contextSize < 1 { add("contextSize", "\(server.contextSize) must be at least 1") }
                if server.parallel < 1 { add("parallel", "\(server.parallel) must be at least 1") }
                if let threads = server.threads, threads < 1 { add("threads", "\(threads) must be at least 1") }
                if server.gpuLayers < 0 { add("gpuLayers", "\(server.gpuLayers) must not be negative") }
                if server.startTimeoutSeconds < 1 { add("startTimeoutSeconds", "\(server.startTimeoutSeconds) must be at least 1") }
                if let problem = Self.modelFileProblem(server.model, modelDirectory: config.resolvedModelDirectory) {
                    add("model", problem, fatal: false)
                }
            }
            if let keyFile = server.apiKeyFile, unreadable(keyFile) {
                add("apiKeyFile", "\(keyFile) does not exist or is not readable", fatal: false)
            }
        }
        let api = config.api
        func gateway(_ key: String, _ message: String) {
            issues.append(Issue(keyPath: key, message: message, layer: nil, gatewayOnly: true))
        }
        if !(1...65535).contains(api.port) {
            gateway("api.port", "\(api.port) is not a TCP port (1–65535)")
        } else if let layer = seenPorts[api.port] {
            gateway("api.port", "\(api.port) is also the port of models.\(layer); give the gateway its own port")
        }
        if api.modelId.isEmpty { gateway("api.modelId", "must not be empty") }
        if let limit = api.defaultMaxTokens, limit < 1 { gateway("api.defaultMaxTokens", "\(limit) must be at least 1 (null leaves requests without a limit unlimited)") }
        if let agent = api.agentModelId {
            if agent.isEmpty { gateway("api.agentModelId", "must not be empty (null turns the agent off)") }
            if api.modelIds.contains(agent) { gateway("api.agentModelId", "'\(agent.prefix(64))' is also the meta model's id or an alias; give the agent its own id") }
        }
        if api.supervised, !FileManager.default.isExecutableFile(atPath: api.resolvedExecutable) {
            gateway("api.executable", "the gateway binary \(api.resolvedExecutable) does not exist; build it (swift build), point api.executable at it, or set api.supervised to false")
        }
        if let limit = api.maxInFlight, limit < 1 { gateway("api.maxInFlight", "\(limit) must be at least 1 (or null for the server's slot count)") }
        if api.maxQueue < 0 { gateway("api.maxQueue", "\(api.maxQueue) must not be negative") }
        if api.upstreamIdleTimeoutSeconds <= 0 || api.upstreamTimeoutSeconds <= 0 || api.clientIdleTimeoutSeconds <= 0 {
            gateway("api", "upstreamIdleTimeoutSeconds, upstreamTimeoutSeconds and clientIdleTimeoutSeconds must be greater than 0")
        }
        if api.queueTimeoutSeconds <= 0 { gateway("api.queueTimeoutSeconds", "\(api.queueTimeoutSeconds) must be greater than 0") }
        if api.maxBodyBytes < 1024 { gateway("api.maxBodyBytes", "\(api.maxBodyBytes) is too small for any chat request (at least 1024)") }
        if let file = api.apiKeyFile, unreadable(file) {
            gateway("api.apiKeyFile", "\(file) does not exist or is not readable")
        }
        if let file = api.operatorKeyFile, unreadable(file) {
            gateway("api.operatorKeyFile", "\(file) does not exist or is not readable")
        }
        if api.requireAuth, !keyFilesArriveAtStart, api.apiKeyFile == nil, api.operatorKeyFile == nil,
                  (ProcessInfo.processInfo.environment["AI_SYSADMIN_API_KEYS"] ?? "").isEmpty {
            gateway("api.requireAuth", "is true but no key is configured; set api.apiKeyFile, api.operatorKeyFile or AI_SYSADMIN_API_KEYS")
        }
        // The console approves changes and MCP runs look-ups and proposes them: neither is ever open to a network.
        for (key, enabled) in [("console.enable", config.console.enable), ("mcp.enable", config.mcp.enable)]
        where enabled && !api.requireAuth && !Self.isLoopback(api.host) {
            gateway(key, "the gateway listens on '\(api.host.prefix(64))' without keys, which would open this door to anyone who can reach it; set api.requireAuth (with api.apiKeyFile) or api.host to 127.0.0.1")
        }
        return issues
    }

    /// Why the model file cannot be loaded, or `nil` when it can.
    public static func modelFileProblem(_ model: String, modelDirectory: String) -> String? {
        let path = ModelReference.resolve(model, modelDirectory: modelDirectory)
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return "model file \(path) does not exist (from '\(model)'); download it or point the setting at a .gguf file"
        }
        if isDirectory { return "model file \(path) is a directory, not a .gguf file" }
        if !FileManager.default.isReadableFile(atPath: path) {
            return "model file \(path) is not readable by this user"
        }
        return nil
    }

    public static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else { return false }
        return scheme == "http" || scheme == "https"
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

/// Finds the `llama-server` executable.
public enum LlamaServerBinary {
    /// An absolute path to an executable, or `nil`. A bare name is looked up in `PATH`.
    public static func locate(_ name: String) -> String? {
        let fm = FileManager.default
        if name.contains("/") { return fm.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if fm.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
