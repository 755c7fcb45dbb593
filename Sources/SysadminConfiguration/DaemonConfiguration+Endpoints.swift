extension DaemonConfiguration {
    /// Where `layer`'s server answers: `http://host:port` for managed and external servers, the URL for
    /// remote ones. The supervisor and the gateway both use this, so they never disagree.
    public func baseURL(for layer: ModelLayer) -> String {
        let server = models[layer]
        switch server.backend {
        case .remote:
            return server.url ?? ""
        case .managed, .external:
            let host = server.host.contains(":") && !server.host.hasPrefix("[") ? "[\(server.host)]" : server.host
            return "http://\(host):\(server.port)"
        }
    }

    /// The file holding the key `layer`'s server requires: the per-start key the supervisor writes for a
    /// managed server, or the configured `apiKeyFile`.
    public func apiKeyFile(for layer: ModelLayer) -> String? {
        switch models[layer].backend {
        case .managed: ModelAPIKey.file(layer: layer, stateDirectory: stateDirectory)
        case .external, .remote: models[layer].apiKeyFile
        }
    }

    /// Applies the key files the command line gives: `modelKeyFile`, the per-boot key of the servers systemd runs on
    /// this host, to every `external` layer only, so a remote server never receives it; `layerKeyFiles`, one layer's
    /// key each (a remote server's own), to whatever layer it names. `run` and `ai-sysadmin-api` both take this path.
    public mutating func applyKeyFiles(modelKeyFile: String?, layerKeyFiles: [ModelLayer: String]) {
        for layer in ModelLayer.allCases {
            if let modelKeyFile, models[layer].backend == .external { models[layer].apiKeyFile = modelKeyFile }
            if let keyFile = layerKeyFiles[layer] { models[layer].apiKeyFile = keyFile }
        }
    }

    /// `layer`'s server with the key it requires at the moment of each request, and the model id it answers to.
    public func endpoint(for layer: ModelLayer) -> ModelEndpoint {
        ModelEndpoint(baseURL: baseURL(for: layer), keyFile: apiKeyFile(for: layer), modelName: models[layer].servedModelName(as: layer))
    }
}
