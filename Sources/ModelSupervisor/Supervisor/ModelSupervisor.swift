import Foundation
import Logging
import ServiceLifecycle
import UpstreamClient

/// Supervises the three model servers: starts them in parallel, keeps them healthy, stops them on shutdown.
///
/// A `Service`: run it in a `ServiceGroup`; SIGTERM/SIGINT to the executable trigger graceful shutdown, which
/// stops every managed server (SIGTERM to its process group, grace, SIGKILL) before `run()` returns.
/// Callers reach a layer through ``client(for:)``; nobody outside knows a port or a key.
public final class ModelSupervisor: Service, Sendable {
    public let configuration: DaemonConfiguration
    private let logger: Logger
    private let http: UpstreamHTTPClient
    private let notifier: SystemdNotifier
    private let controllers: [ModelLayer: ModelServerController]
    private let board: StatusBoard

    public init(configuration: DaemonConfiguration, logger: Logger, http: UpstreamHTTPClient = .shared,
                notifier: SystemdNotifier = .init(), unitRestarter: (any SystemdUnitRestarting)? = SdBusUnitRestarter()) {
        self.configuration = configuration
        self.logger = logger
        self.http = http
        self.notifier = notifier
        let enabledLayers = ModelLayer.allCases.filter { configuration.models[$0].enable }
        let board = StatusBoard(expectedLayers: enabledLayers.count)
        self.board = board

        var controllers: [ModelLayer: ModelServerController] = [:]
        for layer in enabledLayers {
            let server = configuration.models[layer]
            let settings = ModelServerController.Settings(
                layer: layer, server: server, llamaServer: configuration.llamaServer,
                stateDirectory: configuration.stateDirectory, modelDirectory: configuration.resolvedModelDirectory,
                healthInterval: .seconds(configuration.health.intervalSeconds),
                healthTimeout: .seconds(configuration.health.timeoutSeconds),
                stopGrace: .seconds(configuration.restart.stopGraceSeconds),
                policy: .init(
                    missesBeforeRestart: configuration.health.missesBeforeRestart,
                    crashLoopFailures: configuration.restart.crashLoopFailures,
                    backoff: .init(initial: .seconds(configuration.restart.initialBackoffSeconds),
                                   maximum: .seconds(configuration.restart.maximumBackoffSeconds))),
                baseURL: configuration.baseURL(for: layer))
            controllers[layer] = ModelServerController(
                settings: settings, logger: logger, http: http, unitRestarter: unitRestarter,
                onChange: { status in
                    switch board.update(status) {
                    case .ready(let summary): notifier.ready(status: summary)
                    case .status(let summary): notifier.status(summary)
                    case .none: break
                    }
                })
        }
        self.controllers = controllers
    }

    /// The current status of every enabled layer.
    public func status() -> SupervisorStatus {
        board.snapshot
    }

    /// A client for `layer`'s server, or `nil` when the layer is disabled.
    public func client(for layer: ModelLayer) async -> OpenAIClient? {
        guard let controller = controllers[layer] else { return nil }
        return OpenAIClient(endpoint: await controller.endpoint, http: http)
    }

    public func run() async throws {
        let issues = ConfigurationValidator().validate(configuration)
        let fatal = issues.filter(\.stopsTheDaemon)
        guard fatal.isEmpty else {
            throw ConfigurationError(keyPath: "", "the configuration cannot be used:\n" + fatal.map { "  \($0)" }.joined(separator: "\n"))
        }
        for issue in issues { logger.warning("\(issue)") }
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        await ChildRegistry(stateDirectory: configuration.stateDirectory).reapStale(logger: logger)

        logger.notice("starting model servers", metadata: ["ai.layers": "\(controllers.keys.map(\.rawValue).sorted())"])
        for controller in controllers.values { await controller.start() }

        let watchdog = notifier.watchdogPingInterval.map { interval in
            Task { [notifier] in
                while !Task.isCancelled {
                    notifier.watchdog()
                    try? await Task.sleep(for: interval)
                }
            }
        }
        defer { watchdog?.cancel() }

        try? await gracefulShutdown()

        notifier.stopping()
        logger.notice("stopping model servers")
        await withTaskGroup(of: Void.self) { group in
            for controller in controllers.values { group.addTask { await controller.stop() } }
        }
        logger.notice("all model servers stopped")
    }
}
