import ChildProcesses
import Foundation
import Logging
import ServiceLifecycle
import SysadminConfiguration
import Systemd
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
    /// `ai-sysadmin-api` as a child, when `api.supervised`.
    private let gateway: ModelServerController?
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

        let policy = ModelLifecycle.Policy(
            missesBeforeRestart: configuration.health.missesBeforeRestart,
            crashLoopFailures: configuration.restart.crashLoopFailures,
            backoff: .init(initial: .seconds(configuration.restart.initialBackoffSeconds),
                           maximum: .seconds(configuration.restart.maximumBackoffSeconds)))
        func settings(_ program: ModelServerController.Program, _ server: ModelServerConfiguration, baseURL: String)
            -> ModelServerController.Settings
        {
            ModelServerController.Settings(
                program: program, server: server, llamaServer: configuration.llamaServer,
                stateDirectory: configuration.stateDirectory, modelDirectory: configuration.resolvedModelDirectory,
                healthInterval: .seconds(configuration.health.intervalSeconds),
                healthTimeout: .seconds(configuration.health.timeoutSeconds),
                stopGrace: .seconds(configuration.restart.stopGraceSeconds),
                policy: policy, baseURL: baseURL)
        }
        let onChange: @Sendable (ServerSnapshot) -> Void = { snapshot in
            let announcement = snapshot.asModelStatus.map { board.update($0) } ?? board.update(snapshot.status)
            switch announcement {
            case .ready(let summary): notifier.ready(status: summary)
            case .status(let summary): notifier.status(summary)
            case .none: break
            }
        }

        var controllers: [ModelLayer: ModelServerController] = [:]
        for layer in enabledLayers {
            controllers[layer] = ModelServerController(
                settings: settings(.model(layer), configuration.models[layer], baseURL: configuration.baseURL(for: layer)),
                logger: logger, http: http, unitRestarter: unitRestarter, onChange: onChange)
        }
        self.controllers = controllers

        if configuration.api.supervised {
            // The gateway is managed like a model server, with a short start timeout: it loads nothing.
            var server = ModelServerConfiguration.defaults(for: .meta)
            server.host = configuration.api.host
            server.port = configuration.api.port
            server.startTimeoutSeconds = 30
            let host = server.host.contains(":") ? "[\(server.host)]" : (server.host == "0.0.0.0" ? "127.0.0.1" : server.host)
            gateway = ModelServerController(
                settings: settings(.gateway(executable: configuration.api.resolvedExecutable,
                                            configFile: Self.effectiveConfigurationFile(configuration)),
                                   server, baseURL: "http://\(host):\(server.port)"),
                logger: logger, http: http, unitRestarter: nil, onChange: onChange)
        } else {
            gateway = nil
        }
    }

    /// Where the daemon writes the configuration it runs with, for the gateway child to read: flags included.
    static func effectiveConfigurationFile(_ configuration: DaemonConfiguration) -> String {
        (configuration.stateDirectory as NSString).appendingPathComponent("effective-config.json")
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
        // Servers it starts itself it waits for (READY=1 once they answer); servers systemd or another host runs it
        // only watches: it is ready as soon as it watches them, and STATUS= says how they are.
        let startsModels = controllers.keys.contains { configuration.models[$0].backend == .managed }
        if !startsModels, let summary = board.readyNow() {
            notifier.ready(status: summary.isEmpty ? "watching the model servers" : summary)
        }
        if let gateway {
            try writeEffectiveConfiguration()
            await gateway.start()
        }

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
            for controller in Array(controllers.values) + [gateway].compactMap({ $0 }) {
                group.addTask { await controller.stop() }
            }
        }
        logger.notice("all model servers stopped")
    }

    /// The configuration as it runs (flags applied), 0600 as it may name key files, for the gateway child.
    private func writeEffectiveConfiguration() throws {
        let path = Self.effectiveConfigurationFile(configuration)
        guard FileManager.default.createFile(atPath: path, contents: Data(configuration.encodedJSON().utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError(keyPath: "stateDirectory", "cannot write \(path) for the gateway")
        }
    }
}
