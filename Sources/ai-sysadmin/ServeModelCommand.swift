import ArgumentParser
import CommandSupport
import Foundation
import ModelSupervisor

extension ModelLayer: ExpressibleByArgument {}

/// What the `llama-trigger`, `llama-review` and `llama-meta` units run: this process becomes the layer's
/// llama-server (execve), so systemd supervises llama-server itself, started with exactly the command line
/// the daemon would use for a managed server — same model resolution, same flags.
struct ServeModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-model",
        abstract: "Become one layer's llama-server, as the configuration describes it (for systemd units).",
        discussion: """
            The layer's `backend` is ignored: in the configuration the daemon reads, units are `external`. \
            The key the server requires comes from --api-key-file (under systemd, a credential: %d/model-key).
            """)

    @Argument(help: "trigger, review or meta")
    var layer: ModelLayer

    @OptionGroup var options: DaemonOptions

    @Option(name: .customLong("api-key-file"), help: ArgumentHelp("The file with the key clients must send (required).", valueName: "file"))
    var apiKeyFile: String

    @Flag(name: .customLong("dry-run"), help: "Print the command line instead of running it.")
    var dryRun = false

    func run() throws {
        let program = "ai-sysadmin serve-model"
        let configuration: DaemonConfiguration
        do {
            configuration = try options.load()
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        let server = configuration.models[layer]
        guard server.enable else {
            throw CommandSupport.fail(program, ["models.\(layer).enable is false; disable the llama-\(layer) unit instead"])
        }
        do {
            _ = try ModelAPIKey.read(from: apiKeyFile)
        } catch {
            throw CommandSupport.fail(program, ["\(error) (--api-key-file)"])
        }
        let command: LlamaServerCommand
        switch LlamaServerCommand.resolve(layer: layer, server: server, llamaServer: configuration.llamaServer,
                                          modelDirectory: configuration.resolvedModelDirectory, apiKeyFile: apiKeyFile) {
        case .success(let resolved): command = resolved
        case .failure(let problem): throw CommandSupport.fail(program, [problem.message])
        }
        let argv = [command.executable] + command.arguments
        if dryRun {
            print(argv.map(Self.shellQuoted).joined(separator: " "))
            return
        }
        let environment = ChildEnvironment.current().map { "\($0.key)=\($0.value)" }
        let failure = CommandSupport.exec(argv, environment: environment)
        throw CommandSupport.fail(program, ["cannot run \(command.executable): \(failure)"])
    }

    private static func shellQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=,@%+".contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}

/// Writes the per-boot key the model servers require (what the `ai-sysadmin-keys` unit runs).
struct ModelKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model-key",
        abstract: "Write a fresh random key for the model servers to a file (mode 0600, replaced atomically).")

    @Argument(help: ArgumentHelp("Where to write it, e.g. /run/ai-sysadmin-keys/model-key.", valueName: "file"))
    var file: String

    func run() throws {
        do {
            _ = try ModelAPIKey.createKeyFile(at: file)
        } catch {
            throw CommandSupport.fail("ai-sysadmin model-key", ["\(error)"])
        }
    }
}
