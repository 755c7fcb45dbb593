import Foundation
import Monitoring
import SysadminConfiguration

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

    init(layer: ModelLayer, backend: ModelServerConfiguration.Backend, _ status: ServerStatus) {
        self.init(layer: layer, backend: backend, state: status.state, pid: status.pid, endpoint: status.endpoint,
                  uptimeSeconds: status.uptimeSeconds, restarts: status.restarts, lastError: status.lastError)
    }
}

/// What any supervised server reports: the gateway's status as it stands, and the core of a ``ModelStatus``.
public struct ServerStatus: Codable, Sendable, Equatable {
    public var state: ModelLifecycle.State
    public var pid: Int32?
    public var endpoint: String
    public var uptimeSeconds: Double?
    public var restarts: Int
    public var lastError: String?
}

/// What a controller reports; the supervisor files it under its layer or as the gateway.
struct ServerSnapshot: Sendable {
    var program: ModelServerController.Program
    var backend: ModelServerConfiguration.Backend
    var status: ServerStatus

    var asModelStatus: ModelStatus? {
        guard case .model(let layer) = program else { return nil }
        return ModelStatus(layer: layer, backend: backend, status)
    }
}

/// How this host's store reaches the fleet's database (`store.backend` `postgresql`).
public struct FleetLinkStatus: Codable, Sendable, Equatable {
    /// The host's id in the fleet.
    public var host: String
    public var lastPublished: Date?
    /// Since when the database has not answered; nil while it does. The host keeps working meanwhile: what it has
    /// not published waits in its SQLite file.
    public var awaySince: Date?
    public var lastError: String?
    public var eventsPublished: Int
    public var auditLinesPublished: Int

    public init(host: String, lastPublished: Date?, awaySince: Date?, lastError: String?, eventsPublished: Int, auditLinesPublished: Int) {
        self.host = host
        self.lastPublished = lastPublished
        self.awaySince = awaySince
        self.lastError = lastError
        self.eventsPublished = eventsPublished
        self.auditLinesPublished = auditLinesPublished
    }
}

/// The whole daemon's status.
public struct SupervisorStatus: Codable, Sendable, Equatable {
    public var models: [ModelStatus]
    /// `nil` when the daemon does not supervise the gateway (`api.supervised` false).
    public var gateway: ServerStatus?
    /// Layer 1's backlog; `nil` when monitoring is off or has not started.
    public var monitoring: MonitoringBacklog?
    /// `nil` unless the store is published to a fleet (`store.backend` `postgresql`).
    public var fleet: FleetLinkStatus?

    public init(models: [ModelStatus], gateway: ServerStatus? = nil, monitoring: MonitoringBacklog? = nil) {
        self.models = models
        self.gateway = gateway
        self.monitoring = monitoring
    }

    /// Every enabled model is Ready.
    public var allReady: Bool { !models.isEmpty && models.allSatisfy { $0.state == .ready } }

    /// One line for systemd's `STATUS=`: `trigger ready, review starting, meta failed, gateway ready`.
    public var summaryLine: String {
        (models.map { "\($0.layer) \($0.state.rawValue)" } + (gateway.map { ["gateway \($0.state.rawValue)"] } ?? []))
            .joined(separator: ", ")
    }
}
