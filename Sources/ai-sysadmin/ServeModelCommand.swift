import ArgumentParser
import ChildProcesses
import CommandSupport
import Foundation
import ModelFiles
import ModelSupervisor
import SysadminConfiguration
import Systemd

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
            The key the server requires comes from --api-key-file (under systemd, a credential: %d/model-key). \
            With --wait-for-model a model file that is not there yet (ai-sysadmin-models.service is downloading it) \
            is waited for, and `systemctl status` shows how far the download is.
            """)

    @Argument(help: "trigger, review or meta")
    var layer: ModelLayer

    @OptionGroup var options: DaemonOptions

    @Option(name: .customLong("api-key-file"), help: ArgumentHelp("The file with the key clients must send (required).", valueName: "file"))
    var apiKeyFile: String

    @Flag(name: .customLong("dry-run"), help: "Print the command line instead of running it.")
    var dryRun = false

    @Flag(name: .customLong("wait-for-model"), help: "Wait for a model file that is not there yet (being downloaded), reporting progress.")
    var waitForModel = false

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
        if waitForModel {
            ModelFileWait(model: server.model, modelDirectory: configuration.resolvedModelDirectory, layer: layer).untilPresent()
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

/// Waits for a layer's model file while `ai-sysadmin models pull` (the NixOS module's ai-sysadmin-models unit)
/// downloads it: `nixos-rebuild switch` returns at once, and `systemctl status llama-meta` says what the unit
/// waits for and how far the download is (sd_notify STATUS=; the unit needs NotifyAccess=main). The same line goes
/// to standard error when it changes by a tenth, or every minute.
struct ModelFileWait {
    let path: String
    let expectedBytes: Int64?
    let layer: ModelLayer
    let pollInterval: Duration

    init(model: String, modelDirectory: String, layer: ModelLayer, pollInterval: Duration = .seconds(2)) {
        let path = ModelReference.resolve(model, modelDirectory: modelDirectory)
        self.path = path
        // A name from the catalog says how large the file will be.
        expectedBytes = ModelCatalog.builtIn.entries.first { ModelReference.resolve($0.name, modelDirectory: modelDirectory) == path }?.size
        self.layer = layer
        self.pollInterval = pollInterval
    }

    /// Where `models pull` writes until the file is complete.
    var partialPath: String {
        ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).partial")
    }

    /// "waiting for qwen3-14b.gguf: 3.2 GiB of 8.4 GiB downloaded (38%)"
    func progress() -> String {
        let name = (path as NSString).lastPathComponent
        guard let size = (try? FileManager.default.attributesOfItem(atPath: partialPath))?[.size] as? Int64 else {
            return "waiting for \(path): not there yet and no download under way (ai-sysadmin-models.service, or `ai-sysadmin models pull`)"
        }
        guard let expectedBytes, expectedBytes > 0 else { return "waiting for \(name): \(ByteCount.text(size)) downloaded" }
        return "waiting for \(name): \(ByteCount.text(size)) of \(ByteCount.text(expectedBytes)) downloaded (\(size * 100 / expectedBytes)%)"
    }

    func untilPresent() {
        let notifier = SystemdNotifier()
        var said = ""
        var saidAt = ContinuousClock.now - .seconds(3600)
        while !FileManager.default.fileExists(atPath: path) {
            let line = progress()
            notifier.status(line)
            if line.prefix(40) != said.prefix(40) || ContinuousClock.now - saidAt >= .seconds(60) || Self.tenths(line) != Self.tenths(said) {
                FileHandle.standardError.write(Data("ai-sysadmin serve-model \(layer): \(line)\n".utf8))
                (said, saidAt) = (line, .now)
            }
            Thread.sleep(forTimeInterval: Double(pollInterval.components.seconds) + Double(pollInterval.components.attoseconds) / 1e18)
        }
        notifier.status("\((path as NSString).lastPathComponent) is there; starting llama-server")
    }

    private static func tenths(_ line: String) -> Int? {
        guard let open = line.lastIndex(of: "("), let percent = Int(line[line.index(after: open)...].prefix { $0.isNumber }) else { return nil }
        return percent / 10
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
