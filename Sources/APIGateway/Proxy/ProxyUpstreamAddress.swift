import FoundationEssentials

/// Where the proxy path sends the meta model's requests: a plain-HTTP server, reached by host and port.
/// An `https` upstream (a remote backend behind TLS) has none, and its requests take the libcurl path.
struct ProxyUpstreamAddress: Sendable, Equatable {
    let host: String
    let port: Int
    /// The base URL's path (`/prefix`), before the route.
    let pathPrefix: String
    /// The `Host` header.
    let authority: String

    init?(baseURL: String) {
        guard let components = URLComponents(string: baseURL), components.scheme?.lowercased() == "http",
              var host = components.host, !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        port = components.port ?? 80
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        pathPrefix = path
        authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
