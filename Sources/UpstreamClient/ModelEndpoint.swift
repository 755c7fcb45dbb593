/// Where a model server answers and how to authenticate to it.
public struct ModelEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// Scheme, host and port, and an optional path prefix, without a trailing slash: `http://127.0.0.1:40080`.
    public var baseURL: String
    /// Sent as `Authorization: Bearer …`; llama-server's `/health` does not need it.
    public var apiKey: String?
    /// Reached over this Unix socket rather than TCP (the daemon's agent); `baseURL` then only names it.
    public var unixSocketPath: String?

    public init(baseURL: String, apiKey: String? = nil, unixSocketPath: String? = nil) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.apiKey = apiKey
        self.unixSocketPath = unixSocketPath
    }

    public func url(_ path: String) -> String { baseURL + path }

    var authorizationHeaders: [(name: String, value: String)] {
        apiKey.map { [("Authorization", "Bearer \($0)")] } ?? []
    }

    /// The base URL only; the key never appears in logs.
    public var description: String { unixSocketPath.map { "unix:\($0)" } ?? baseURL }
}
