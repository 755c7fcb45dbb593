import Foundation

/// A snapshot of one layer's server, as `ai-sysadmin status` shows it.
public struct ModelStatus: Codable, Sendable, Equatable {
    public var layer: ModelLayer
    public var backend: ModelServerConfiguration.Backend
    public var state: ModelLifecycle.State
    public var pid: Int32?
    /// `127.0.0.1:40080`, or the remote URL.
    public var endpoint: String
    /// Seconds since the server last became Ready; `nil` when not Ready.
    public var uptimeSeconds: Double?
    public var restarts: Int
    public var lastError: String?

    public init(layer: ModelLayer, backend: ModelServerConfiguration.Backend, state: ModelLifecycle.State, pid: Int32?,
                endpoint: String, uptimeSeconds: Double?, restarts: Int, lastError: String?) {
        self.layer = layer
        self.backend = backend
        self.state = state
        self.pid = pid
        self.endpoint = endpoint
        self.uptimeSeconds = uptimeSeconds
        self.restarts = restarts
        self.lastError = lastError
    }
}

/// The whole daemon's status.
public struct SupervisorStatus: Codable, Sendable, Equatable {
    public var models: [ModelStatus]

    public init(models: [ModelStatus]) {
        self.models = models
    }

    /// Every enabled model is Ready.
    public var allReady: Bool { !models.isEmpty && models.allSatisfy { $0.state == .ready } }

    /// One line for systemd's `STATUS=`: `trigger ready, review starting, meta failed`.
    public var summaryLine: String {
        models.map { "\($0.layer) \($0.state.rawValue)" }.joined(separator: ", ")
    }
}
