/// Where a model server answers and how to authenticate to it. Every caller of a model server — the daemon's layers,
/// the gateway, the CLI — reaches it through one of these, so they never disagree on its address or its key.
public struct ModelEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// Scheme, host and port, and an optional path prefix, without a trailing slash: `http://127.0.0.1:40080`.
    public var baseURL: String
    /// A key given as is (a remote server's, a test's); sent as `Authorization: Bearer …`.
    public var apiKey: String?
    /// The file holding the key, read again when it changes: the supervisor writes a new one whenever it starts a
    /// managed server. Takes precedence over `apiKey`.
    public var keyFile: String?
    /// Reached over this Unix socket rather than TCP (the daemon's agent); `baseURL` then only names it.
    public var unixSocketPath: String?
    /// The model id every chat request names: what the server answers to (llama-server's `--alias`, a central
    /// gateway's `api.modelId`). `nil` keeps what each request says.
    public var modelName: String?

    public init(
        baseURL: String, apiKey: String? = nil, keyFile: String? = nil, unixSocketPath: String? = nil, modelName: String? = nil
    ) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.apiKey = apiKey
        self.keyFile = keyFile
        self.unixSocketPath = unixSocketPath
        self.modelName = modelName
    }

    public func url(_ path: String) -> String { baseURL + path }

    /// The key the server requires now; `nil` when it needs none or its key file cannot be read (the server then
    /// answers 401, which names the problem better than a failure here would).
    public var currentKey: String? {
        guard let keyFile else { return apiKey }
        return ModelAPIKey.current(in: keyFile)
    }

    /// The base URL only; the key never appears in logs.
    public var description: String { unixSocketPath.map { "unix:\($0)" } ?? baseURL }
}
