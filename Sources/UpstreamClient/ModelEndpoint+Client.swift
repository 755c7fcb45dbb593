import SysadminConfiguration

extension ModelEndpoint {
    var authorizationHeaders: [(name: String, value: String)] {
        currentKey.map { [("Authorization", "Bearer \($0)")] } ?? []
    }
}

extension DaemonConfiguration {
    /// A client for `layer`'s server; it sends the key the server requires at the moment of each request.
    public func client(for layer: ModelLayer) -> OpenAIClient {
        OpenAIClient(endpoint: endpoint(for: layer))
    }
}
