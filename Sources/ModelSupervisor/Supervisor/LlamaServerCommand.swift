import ChildProcesses
import Foundation
import SysadminConfiguration

/// The `llama-server` command line for one managed layer.
public struct LlamaServerCommand: Sendable, Equatable {
    public var executable: String
    public var arguments: [String]

    public init(layer: ModelLayer, server: ModelServerConfiguration, executable: String, modelPath: String,
                apiKeyFile: String) {
        self.executable = executable
        var args = [
            "--host", server.host,
            "--port", String(server.port),
            "--model", modelPath,
            "--ctx-size", String(server.contextSize),
            "--n-gpu-layers", String(server.gpuLayers),
            "--parallel", String(server.parallel),
            "--alias", server.servedModelName(as: layer),
            "--api-key-file", apiKeyFile,
            // The bundled web UI has no place on an internal model server.
            "--no-webui",
        ]
        if let threads = server.threads { args += ["--threads", String(threads)] }
        args += server.extraArgs
        arguments = args
    }

    /// The command for `layer` as the configuration describes it, with the model resolved by
    /// ``ModelReference`` and the binary located: one rule for the daemon's managed servers and for the
    /// `llama-*` units that run `ai-sysadmin serve-model`. The failure names the setting to fix.
    public static func resolve(layer: ModelLayer, server: ModelServerConfiguration, llamaServer: String,
                               modelDirectory: String, apiKeyFile: String) -> Result<LlamaServerCommand, SpawnError> {
        if let problem = ConfigurationValidator.modelFileProblem(server.model, modelDirectory: modelDirectory) {
            return .failure(SpawnError(message: "\(problem) (models.\(layer).model)"))
        }
        guard let located = LlamaServerBinary.locate(llamaServer) else {
            return .failure(SpawnError(message: "llama-server binary '\(llamaServer)' not found (llamaServer); run scripts/setup or pass --llama-server"))
        }
        return .success(LlamaServerCommand(layer: layer, server: server, executable: located,
                                           modelPath: ModelReference.resolve(server.model, modelDirectory: modelDirectory),
                                           apiKeyFile: apiKeyFile))
    }
}

/// The environment handed to children: the daemon's own, minus what belongs to the daemon's service manager
/// and what would configure llama-server behind the configuration's back.
public enum ChildEnvironment {
    /// `NOTIFY_SOCKET` in a child would let it claim readiness (or stop the watchdog) for the daemon's unit.
    static let withheldVariables: Set<String> = [
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
    ]
    /// llama-server reads every option from `LLAMA_ARG_*` too (`LLAMA_ARG_API_KEY` would add a key, say);
    /// what runs is decided by the configuration and `extraArgs` alone.
    static let withheldPrefix = "LLAMA_ARG_"

    public static func current() -> [String: String] {
        filtered(ProcessInfo.processInfo.environment)
    }

    static func filtered(_ environment: [String: String]) -> [String: String] {
        environment.filter { !withheldVariables.contains($0.key) && !$0.key.hasPrefix(withheldPrefix) }
    }
}
