import FoundationEssentials

/// How one layer's model server is run and reached.
public struct ModelServerConfiguration: Sendable, Equatable {
    public enum Backend: String, Sendable, Codable, CaseIterable {
        /// The daemon spawns and supervises `llama-server` itself.
        case managed
        /// systemd runs the server (NixOS `llama-trigger` etc.); the daemon health-checks it and asks systemd
        /// to restart the unit after sustained failure.
        case external
        /// Any OpenAI-compatible URL; the daemon only health-checks it.
        case remote

        public init(from decoder: any Decoder) throws {
            let raw = try decoder.singleValueContainer().decode(String.self)
            guard let backend = Backend(rawValue: raw) else {
                throw ConfigurationError(
                    keyPath: decoder.codingPath.dottedPath,
                    "'\(raw.prefix(64))' is not a backend; use one of: \(Backend.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self = backend
        }
    }

    public var enable = true
    public var backend: Backend = .managed
    public var host = "127.0.0.1"
    public var port: Int
    /// A `.gguf` path, or a name resolved under the model directory (see ``ModelReference``).
    public var model: String
    public var contextSize: Int
    /// `--n-gpu-layers`; 0 on CPU-only hosts.
    public var gpuLayers = 0
    /// `--threads`; `nil` lets llama-server choose.
    public var threads: Int?
    /// `--parallel`: request slots.
    public var parallel = 1
    /// `--alias`: the model id the server reports; defaults to the layer name.
    public var alias: String?
    public var extraArgs: [String] = []
    /// How long a starting server may take to answer `/health` with 200. Large models load for minutes.
    public var startTimeoutSeconds = 600
    /// Listening beyond loopback exposes the model to the network; it must be asked for explicitly.
    public var allowNonLoopback = false
    /// For `external`: the unit to restart over D-Bus; defaults to `llama-<layer>.service`.
    public var systemdUnit: String?
    /// For `remote`: the base URL, e.g. `http://10.0.0.5:8080`.
    public var url: String?
    /// For `remote` and `external`: a file whose first line is the API key to send.
    public var apiKeyFile: String?

    /// The model name the server answers to as `layer`'s (llama-server's `--alias`), the name sent upstream.
    public func servedModelName(as layer: ModelLayer) -> String {
        alias ?? layer.rawValue
    }

    public static func defaults(for layer: ModelLayer) -> ModelServerConfiguration {
        switch layer {
        case .trigger: ModelServerConfiguration(port: 40080, model: "qwen3:1b", contextSize: 8192)
        case .review: ModelServerConfiguration(port: 40081, model: "qwen3:4b", contextSize: 32768)
        case .meta: ModelServerConfiguration(port: 40082, model: "qwen3:14b", contextSize: 131072)
        }
    }

    init(port: Int, model: String, contextSize: Int) {
        self.port = port
        self.model = model
        self.contextSize = contextSize
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enable, backend, host, port, model, contextSize, gpuLayers, threads, parallel, alias, extraArgs
        case startTimeoutSeconds, allowNonLoopback, systemdUnit, url, apiKeyFile
    }

    /// Decodes the keys present in the file over `defaults`; unknown keys are errors.
    static func decode(from decoder: any Decoder, over defaults: ModelServerConfiguration) throws -> Self {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var value = defaults
        value.enable = try c.decode(.enable, default: defaults.enable)
        value.backend = try c.decode(.backend, default: defaults.backend)
        value.host = try c.decode(.host, default: defaults.host)
        value.port = try c.decode(.port, default: defaults.port)
        value.model = try c.decode(.model, default: defaults.model)
        value.contextSize = try c.decode(.contextSize, default: defaults.contextSize)
        value.gpuLayers = try c.decode(.gpuLayers, default: defaults.gpuLayers)
        value.threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? defaults.threads
        value.parallel = try c.decode(.parallel, default: defaults.parallel)
        value.alias = try c.decodeIfPresent(String.self, forKey: .alias) ?? defaults.alias
        value.extraArgs = try c.decode(.extraArgs, default: defaults.extraArgs)
        value.startTimeoutSeconds = try c.decode(.startTimeoutSeconds, default: defaults.startTimeoutSeconds)
        value.allowNonLoopback = try c.decode(.allowNonLoopback, default: defaults.allowNonLoopback)
        value.systemdUnit = try c.decodeIfPresent(String.self, forKey: .systemdUnit) ?? defaults.systemdUnit
        value.url = try c.decodeIfPresent(String.self, forKey: .url) ?? defaults.url
        value.apiKeyFile = try c.decodeIfPresent(String.self, forKey: .apiKeyFile) ?? defaults.apiKeyFile
        return value
    }
}

extension ModelServerConfiguration: Encodable {
    /// Encodes every field, `null` included, so `config example` shows all that can be set.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(enable, forKey: .enable)
        try c.encode(backend, forKey: .backend)
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encode(model, forKey: .model)
        try c.encode(contextSize, forKey: .contextSize)
        try c.encode(gpuLayers, forKey: .gpuLayers)
        try c.encode(threads, forKey: .threads)
        try c.encode(parallel, forKey: .parallel)
        try c.encode(alias, forKey: .alias)
        try c.encode(extraArgs, forKey: .extraArgs)
        try c.encode(startTimeoutSeconds, forKey: .startTimeoutSeconds)
        try c.encode(allowNonLoopback, forKey: .allowNonLoopback)
        try c.encode(systemdUnit, forKey: .systemdUnit)
        try c.encode(url, forKey: .url)
        try c.encode(apiKeyFile, forKey: .apiKeyFile)
    }
}
