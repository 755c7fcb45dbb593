import Foundation
import Logging
import ModelSupervisor
import ServiceLifecycle
import SysadminConfiguration
import Systemd
import TestSupport
import Testing
import UpstreamClient

/// What `scripts/setup` provides: a real llama-server and the SmolLM2-135M test model.
enum TestEnvironment {
    static func llamaServer() throws -> String {
        let path = try #require(ProcessInfo.processInfo.environment["LLAMA_SERVER"],
                                "LLAMA_SERVER is not set; run the tests through scripts/test (it runs scripts/setup)")
        try #require(FileManager.default.isExecutableFile(atPath: path), "LLAMA_SERVER=\(path) is not executable")
        return path
    }

    static func model() throws -> String {
        let path = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_MODEL"],
                                "AI_SYSADMIN_TEST_MODEL is not set; run the tests through scripts/test")
        try #require(FileManager.default.fileExists(atPath: path), "AI_SYSADMIN_TEST_MODEL=\(path) does not exist")
        return path
    }

    /// The `ai-sysadmin` executable SwiftPM built next to this test bundle.
    static func daemonExecutable() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ai-sysadmin").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/ai-sysadmin").path,
        ]
        return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
                            "ai-sysadmin executable not found at \(candidates); build with `swift build --build-tests`")
    }

    /// Runs `executable ARGS…` to completion, its output captured in files (a pipe could fill and block it).
    static func runToCompletion(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let directory = try temporaryDirectory("cli")
        let (outPath, errPath) = (directory + "/stdout", directory + "/stderr")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOfFile: outPath, encoding: .utf8),
                try String(contentsOfFile: errPath, encoding: .utf8))
    }

    /// The repository's root directory.
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The path of a helper in Tests/Support.
    static func supportFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/\(name)").path
    }

    /// Appends `lines` to a followed log file as an app's syslog lines.
    static func appendLogLines(_ lines: [String], to file: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: file))
        handle.seekToEndOfFile()
        handle.write(Data(lines.map { "Nov 25 10:00:00 web1 app[812]: \($0)\n" }.joined().utf8))
        handle.closeFile()
    }

    /// Starts `ai-sysadmin run` with `config` written to a file and `arguments` after it; stderr goes to a log file in
    /// the state directory.
    static func launchDaemon(_ config: DaemonConfiguration, arguments: [String] = [], environment extra: [String: String] = [:]) throws -> Process {
        let file = config.stateDirectory + "/config.json"
        try config.encodedJSON().write(toFile: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestEnvironment.daemonExecutable())
        process.arguments = ["run", "--config", file, "--log-level", "debug"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        _ = FileManager.default.createFile(atPath: config.stateDirectory + "/daemon.log", contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: config.stateDirectory + "/daemon.log"))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Starts a Python helper from Tests/Support with the test venv and waits for it to print `readyLine`.
    /// The caller ends it (SIGKILL) when done.
    static func startHelper(_ script: String, _ arguments: [String], readyLine: String = "listening") async throws -> (Process, LineCollector) {
        let python = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_PYTHON"],
                                  "AI_SYSADMIN_TEST_PYTHON is not set; run the tests through scripts/test")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [supportFile(script)] + arguments
        let output = Pipe()
        process.standardOutput = output
        let lines = LineCollector()
        lines.attach(to: output)
        try process.run()
        guard await eventually(timeout: .seconds(20), { lines.all.contains(readyLine) }) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw HelperError(message: "\(script) did not start: \(lines.all)")
        }
        return (process, lines)
    }

    struct HelperError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    static func end(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Runs a Python helper from Tests/Support with the test venv (the official `openai` package) and decodes
    /// the one JSON object it prints; a non-zero exit fails the test with what it wrote to stderr.
    static func pythonCheck<Result: Decodable>(_ script: String, _ arguments: [String], as: Result.Type,
                                               timeout: Duration = .seconds(120)) async throws -> Result {
        let python = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_PYTHON"],
                                  "AI_SYSADMIN_TEST_PYTHON is not set; run the tests through scripts/test")
        let directory = try temporaryDirectory("py")
        let output = directory + "/out.json", errors = directory + "/err.txt"
        for file in [output, errors] { _ = FileManager.default.createFile(atPath: file, contents: nil) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [supportFile(script)] + arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        let exited = Gate()
        process.terminationHandler = { _ in exited.open() }
        try process.run()
        // Off the cooperative pool: the gateway under test answers on it.
        let finished = await exited.waitAsync(timeout: timeout)
        if !finished {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try #require(finished, "\(script) did not finish within \(timeout)")
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        try #require(process.terminationStatus == 0, "\(script) failed: \(stderr.suffix(2000))")
        return try JSONDecoder().decode(Result.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
    }

    static func temporaryDirectory(_ label: String) throws -> String {
        // Short: the control socket path must fit in sockaddr_un (108 bytes).
        let path = "/tmp/ais-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A configuration on free ports with the tiny model, fast health probing, and only `layers` enabled.
    static func configuration(layers: Set<ModelLayer> = Set(ModelLayer.allCases), label: String) throws -> DaemonConfiguration {
        var config = DaemonConfiguration()
        config.stateDirectory = try temporaryDirectory(label)
        config.llamaServer = try llamaServer()
        config.health.intervalSeconds = 0.5
        config.health.timeoutSeconds = 1
        config.health.missesBeforeRestart = 2
        config.restart.initialBackoffSeconds = 0.2
        config.restart.maximumBackoffSeconds = 2
        config.restart.stopGraceSeconds = 5
        // In-process supervisors must not start gateways on the default port; tests that want one say so.
        config.api.supervised = false
        let model = try model()
        for layer in ModelLayer.allCases {
            config.models[layer].enable = layers.contains(layer)
            config.models[layer].model = model
            config.models[layer].port = freePort()
            config.models[layer].contextSize = 1024
            config.models[layer].threads = 1
            config.models[layer].startTimeoutSeconds = 120
        }
        return config
    }

    static let logger: Logger = {
        var logger = Logger(label: "integration-tests")
        logger.logLevel = ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_LOG"] == nil ? .critical : .debug
        return logger
    }()
}

/// A supervisor running in its own service group, for one test.
struct RunningSupervisor {
    let supervisor: ModelSupervisor
    let group: ServiceGroup
    let task: Task<Void, any Error>

    static func start(_ configuration: DaemonConfiguration,
                      unitRestarter: (any SystemdUnitRestarting)? = nil) -> RunningSupervisor {
        let supervisor = ModelSupervisor(configuration: configuration, logger: TestEnvironment.logger,
                                         unitRestarter: unitRestarter)
        let group = ServiceGroup(services: [supervisor], logger: TestEnvironment.logger)
        let task = Task { try await group.run() }
        return RunningSupervisor(supervisor: supervisor, group: group, task: task)
    }

    /// Polls the status until `condition` holds or `timeout` passes; returns the last status.
    @discardableResult
    func waitFor(_ what: String, timeout: Duration = .seconds(90),
                 _ condition: (SupervisorStatus) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws -> SupervisorStatus {
        var status = supervisor.status()
        let reached = await eventually(timeout: timeout) {
            status = supervisor.status()
            return condition(status)
        }
        guard reached else {
            Issue.record("timed out waiting for \(what); last status: \(status)", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        return status
    }

    func model(_ layer: ModelLayer) -> ModelStatus? {
        supervisor.status().models.first { $0.layer == layer }
    }

    /// Graceful shutdown; returns once every server is stopped.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// Every integration suite nests in this one: `.serialized` applies to all of them, so their llama-servers
/// never compete for this machine's two cores and health-probe timing stays meaningful.
@Suite(.serialized) enum IntegrationTests {}
