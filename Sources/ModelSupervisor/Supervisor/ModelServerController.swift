import ChildProcesses
import Foundation
import Logging
import SysadminConfiguration
import Systemd
import UpstreamClient

/// Drives one supervised server — a layer's model server, or the gateway — through its ``ModelLifecycle``:
/// performs each action (spawn, signal, timer, D-Bus restart) and feeds every outcome (exit, probe, timer)
/// back as an event.
///
/// Events carry the generation of the process they concern; an event from an earlier process (a probe
/// that answered after its server was replaced) is dropped, so it cannot move the current one.
actor ModelServerController {
    /// What is supervised.
    enum Program: Sendable {
        /// A layer's llama-server (for `external` and `remote` backends, one that someone else runs).
        case model(ModelLayer)
        /// The gateway, `ai-sysadmin-api --config FILE`, always managed.
        case gateway(executable: String, configFile: String)
    }

    struct Settings: Sendable {
        var program: Program
        /// Host, port, backend and start timeout; for the gateway, synthesized from the `api` section.
        var server: ModelServerConfiguration
        var llamaServer: String
        var stateDirectory: String
        var modelDirectory: String
        var healthInterval: Duration
        var healthTimeout: Duration
        var stopGrace: Duration
        var policy: ModelLifecycle.Policy
        /// From ``DaemonConfiguration/baseURL(for:)``.
        var baseURL: String
    }

    let settings: Settings
    /// `trigger`, `review`, `meta` or `gateway`: the name in logs and child records.
    let name: String
    private let logger: Logger
    private let http: UpstreamHTTPClient
    private let registry: ChildRegistry
    private let unitRestarter: (any SystemdUnitRestarting)?
    private let onChange: @Sendable (ServerSnapshot) -> Void

    private var lifecycle: ModelLifecycle
    private var generation = 0
    private var child: ChildProcess?
    private var spawning = false
    private var apiKey: String?
    private var apiKeyFile: String?
    /// Probes the current process; replaced on every spawn, so a new server is probed at once rather than
    /// after whatever interval the previous one's prober was sleeping through.
    private var healthTask: Task<Void, Never>?
    /// The start-timeout or backoff timer of the current generation; replaced by the next, cancelled on stop.
    private var timer: Task<Void, Never>?
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    init(settings: Settings, logger: Logger, http: UpstreamHTTPClient, unitRestarter: (any SystemdUnitRestarting)?,
         onChange: @escaping @Sendable (ServerSnapshot) -> Void) {
        self.settings = settings
        var logger = logger
        switch settings.program {
        case .model(let layer):
            name = layer.rawValue
            logger[metadataKey: "ai.layer"] = "\(layer)"
        case .gateway:
            name = "gateway"
            logger[metadataKey: "ai.service"] = "gateway"
        }
        self.logger = logger
        self.http = http
        self.registry = ChildRegistry(stateDirectory: settings.stateDirectory)
        self.unitRestarter = unitRestarter
        self.onChange = onChange
        self.lifecycle = ModelLifecycle(policy: settings.policy)
    }

    // MARK: Public face

    /// Where callers reach this layer, with the key the server requires.
    var endpoint: ModelEndpoint {
        let modelName: String? = if case .model(let layer) = settings.program { settings.server.servedModelName(as: layer) } else { nil }
        return ModelEndpoint(baseURL: settings.baseURL, apiKey: apiKey, modelName: modelName)
    }

    var status: ServerSnapshot {
        let server = settings.server
        let uptime = lifecycle.readySince.map { (ContinuousClock.now - $0).seconds }
        return ServerSnapshot(program: settings.program, backend: server.backend, status: ServerStatus(
            state: lifecycle.state, pid: child.map(\.pid),
            endpoint: server.backend == .remote ? (server.url ?? "") : "\(server.host):\(server.port)",
            uptimeSeconds: lifecycle.state == .ready || lifecycle.state == .unhealthy ? uptime : nil,
            restarts: lifecycle.restarts, lastError: lifecycle.lastError))
    }

    func start() {
        do {
            try prepareAPIKey()
        } catch {
            logger.error("cannot prepare the API key: \(error)")
        }
        deliver(.startRequested, generation: nil)
    }

    /// Stops the server (SIGTERM, grace, SIGKILL for managed ones) and returns once it is gone.
    func stop() async {
        await withCheckedContinuation { continuation in
            stopWaiters.append(continuation)
            deliver(.stopRequested, generation: nil)
        }
        healthTask?.cancel()
        healthTask = nil
    }

    // MARK: Event loop

    private func deliver(_ event: ModelLifecycle.Event, generation eventGeneration: Int?) {
        if let eventGeneration, eventGeneration != generation { return }
        let before = lifecycle.state
        let action = lifecycle.handle(event, at: .now)
        if lifecycle.state != before {
            var metadata: Logger.Metadata = ["ai.model.state": "\(lifecycle.state.rawValue)"]
            if let pid = child?.pid { metadata["ai.child.pid"] = "\(pid)" }
            switch lifecycle.state {
            case .failed, .backoff:
                logger.error("\(before.rawValue) → \(lifecycle.state.rawValue): \(lifecycle.lastError ?? "")", metadata: metadata)
            default:
                logger.notice("\(before.rawValue) → \(lifecycle.state.rawValue)", metadata: metadata)
            }
        }
        perform(action)
        onChange(status)
    }

    private func perform(_ action: ModelLifecycle.Action) {
        switch action {
        case .none:
            break
        case .spawn:
            generation += 1
            let current = generation
            spawning = true
            Task { await self.spawn(generation: current) }
            healthTask?.cancel()
            healthTask = Task { [weak self] in await self?.probe(generation: current) }
            let limit = Duration.seconds(settings.server.startTimeoutSeconds)
            schedule(after: limit, .startTimedOut(limit))
        case .terminate(let reason, let graceful):
            terminate(reason: reason, graceful: graceful)
        case .scheduleRestart(let delay):
            logger.notice("restarting in \(delay.secondsText)")
            schedule(after: delay, .backoffElapsed)
        case .stopped:
            timer?.cancel()
            timer = nil
            let waiters = stopWaiters
            stopWaiters.removeAll()
            waiters.forEach { $0.resume() }
        }
    }

    /// Delivers `event` for the current generation after `delay`, unless a newer timer replaces this one.
    private func schedule(after delay: Duration, _ event: ModelLifecycle.Event) {
        let current = generation
        timer?.cancel()
        timer = Task {
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            self.deliver(event, generation: current)
        }
    }

    // MARK: Actions

    private func spawn(generation current: Int) async {
        defer { if current == generation { spawning = false } }
        switch settings.server.backend {
        case .external, .remote:
            // systemd or someone else runs it: "starting" means watching /health until it answers.
            return
        case .managed:
            break
        }
        let server = settings.server
        let executable: String
        let arguments: [String]
        switch settings.program {
        case .model(let layer):
            guard let apiKeyFile else {
                return deliver(.spawnFailed("no API key file could be written under \(settings.stateDirectory)/keys"), generation: current)
            }
            switch LlamaServerCommand.resolve(layer: layer, server: server, llamaServer: settings.llamaServer,
                                              modelDirectory: settings.modelDirectory, apiKeyFile: apiKeyFile) {
            case .success(let command): (executable, arguments) = (command.executable, command.arguments)
            case .failure(let problem): return deliver(.spawnFailed(problem.message), generation: current)
            }
        case .gateway(let gateway, let configFile):
            guard FileManager.default.isExecutableFile(atPath: gateway) else {
                return deliver(.spawnFailed("the gateway executable \(gateway) does not exist (api.executable); build it or set api.supervised to false"), generation: current)
            }
            (executable, arguments) = (gateway, ["--config", configFile])
        }
        if let problem = PortProbe.problem(host: server.host, port: server.port) {
            let key = if case .model(let layer) = settings.program { "models.\(layer).port" } else { "api.port" }
            return deliver(.spawnFailed("\(problem) (\(key)); stop that process or choose another port"), generation: current)
        }
        let logger = self.logger
        do {
            let process = try await ChildProcess.launch(
                executable: executable, arguments: arguments, environment: ChildEnvironment.current(),
                onLine: { stream, line in
                    logger.info("\(PrintableLine.sanitize(line))", metadata: ["ai.child.stream": "\(stream.rawValue)"])
                },
                onExit: { [weak self] description, tail in
                    Task { await self?.childExited(generation: current, description: description, stderrTail: tail) }
                })
            guard current == generation else {
                process.signalGroup(SIGKILL)
                return
            }
            child = process
            do {
                try registry.record(.init(name: name, pid: process.pid, startTime: process.startTime, executable: executable))
            } catch {
                logger.warning("cannot record the child under \(registry.directory); a crash of the daemon that PDEATHSIG misses would leave it running: \(error)")
            }
            logger.notice("started \((executable as NSString).lastPathComponent)", metadata: [
                "ai.child.pid": "\(process.pid)", "ai.child.argv": "\(([executable] + arguments).joined(separator: " "))",
            ])
            if lifecycle.state == .stopping { terminate(reason: "stop requested", graceful: true) }
        } catch {
            deliver(.spawnFailed("\(error)"), generation: current)
        }
    }

    private func childExited(generation exited: Int, description: String, stderrTail: [String]) {
        if exited == generation {
            child = nil
            registry.remove(name: name)
        }
        deliver(.exited(description: description, stderrTail: stderrTail), generation: exited)
    }

    private func terminate(reason: String, graceful: Bool) {
        let current = generation
        switch settings.server.backend {
        case .managed:
            guard let child else {
                // Still spawning: spawn() sees the state and terminates what it started. Otherwise nothing runs.
                if !spawning { deliver(.exited(description: "not running", stderrTail: []), generation: current) }
                return
            }
            logger.notice("terminating: \(reason)", metadata: ["ai.child.pid": "\(child.pid)"])
            if graceful {
                child.signalGroup(SIGTERM)
                child.signalGroup(SIGCONT) // a stopped (SIGSTOP) process only acts on SIGTERM once continued
                let grace = settings.stopGrace
                Task {
                    try? await Task.sleep(for: grace)
                    if !child.hasExited { child.signalGroup(SIGKILL) }
                }
            } else {
                child.signalGroup(SIGKILL)
            }
        case .external:
            guard lifecycle.state != .stopping else {
                return deliver(.exited(description: "no longer watched", stderrTail: []), generation: current)
            }
            guard case .model(let layer) = settings.program else { return }
            let unit = settings.server.systemdUnit ?? layer.defaultSystemdUnit
            let restarter = unitRestarter
            let logger = self.logger
            Task {
                let outcome: String
                if let restarter {
                    do {
                        try await restarter.restartUnit(unit)
                        outcome = "asked systemd to restart \(unit)"
                        logger.notice("\(outcome): \(reason)")
                    } catch {
                        outcome = "restarting \(unit) through systemd failed: \(error)"
                        logger.error("\(outcome)")
                    }
                } else {
                    outcome = "no systemd connection to restart \(unit)"
                }
                await self.deliver(.exited(description: outcome, stderrTail: []), generation: current)
            }
        case .remote:
            deliver(.exited(description: "remote server unavailable", stderrTail: []), generation: current)
        }
    }

    private func prepareAPIKey() throws {
        guard case .model(let layer) = settings.program else { return } // the gateway needs no key of ours
        switch settings.server.backend {
        case .managed:
            let (key, file) = try ModelAPIKey.generate(layer: layer, stateDirectory: settings.stateDirectory)
            apiKey = key
            apiKeyFile = file
        case .external, .remote:
            if let file = settings.server.apiKeyFile { apiKey = try ModelAPIKey.read(from: file) }
        }
    }

    // MARK: Health

    /// Probes `/health` of generation `current` until it is replaced or stopped: every 50 ms while it
    /// starts (a refused connection or a 503 costs the server next to nothing, and Ready is seen within
    /// 50 ms of the model being loaded), every `healthInterval` once Ready.
    static let startingProbeInterval = Duration.milliseconds(50)

    private func probe(generation current: Int) async {
        let client = OpenAIClient(
            endpoint: endpoint, http: http,
            probeTimeouts: HTTPTimeouts(connect: settings.healthTimeout, total: settings.healthTimeout, idle: settings.healthTimeout))
        let remote = settings.server.backend == .remote
        while !Task.isCancelled, current == generation {
            let steady = lifecycle.state == .ready || lifecycle.state == .unhealthy
            try? await Task.sleep(for: steady ? settings.healthInterval : Self.startingProbeInterval)
            guard !Task.isCancelled, current == generation else { return }
            guard lifecycle.isRunning, lifecycle.state != .stopping else { continue }
            let health = remote ? await client.genericHealth() : await client.health()
            let observation: ModelLifecycle.HealthObservation = switch health {
            case .ready: .ready
            case .loading: .loading
            case .unavailable(let why): .down(why)
            }
            deliver(.health(observation), generation: current)
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var secondsText: String {
        let value = seconds
        return value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}
