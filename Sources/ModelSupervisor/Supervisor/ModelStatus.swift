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

/// The gateway child's status, when the daemon supervises it.
public struct GatewayStatus: Codable, Sendable, Equatable {
    public var state: ModelLifecycle.State
    public var pid: Int32?
    public var endpoint: String
    public var uptimeSeconds: Double?
    public var restarts: Int
    public var lastError: String?
}

/// What a controller reports; the supervisor files it as a ``ModelStatus`` or a ``GatewayStatus``.
struct ServerSnapshot: Sendable {
    var program: ModelServerController.Program
    var backend: ModelServerConfiguration.Backend
    var state: ModelLifecycle.State
    var pid: Int32?
    var endpoint: String
    var uptimeSeconds: Double?
    var restarts: Int
    var lastError: String?

    var asModelStatus: ModelStatus? {
        guard case .model(let layer) = program else { return nil }
        return ModelStatus(layer: layer, backend: backend, state: state, pid: pid, endpoint: endpoint,
                           uptimeSeconds: uptimeSeconds, restarts: restarts, lastError: lastError)
    }

    var asGatewayStatus: GatewayStatus {
        GatewayStatus(state: state, pid: pid, endpoint: endpoint, uptimeSeconds: uptimeSeconds, restarts: restarts,
                      lastError: lastError)
    }
}

/// The whole daemon's status.
public struct SupervisorStatus: Codable, Sendable, Equatable {
    public var models: [ModelStatus]
    /// `nil` when the daemon does not supervise the gateway (`api.supervised` false).
    public var gateway: GatewayStatus?

    public init(models: [ModelStatus], gateway: GatewayStatus? = nil) {
        self.models = models
        self.gateway = gateway
    }

    /// Every enabled model is Ready.
    public var allReady: Bool { !models.isEmpty && models.allSatisfy { $0.state == .ready } }

    /// One line for systemd's `STATUS=`: `trigger ready, review starting, meta failed, gateway ready`.
    public var summaryLine: String {
        (models.map { "\($0.layer) \($0.state.rawValue)" } + (gateway.map { ["gateway \($0.state.rawValue)"] } ?? []))
            .joined(separator: ", ")
    }
}
