import ArgumentParser
import CommandSupport
import Foundation
import Monitoring
import SysadminConfiguration
import UpstreamClient

/// How `replay` and `eval` run Layer 1: the configuration whose monitoring settings apply, and which trigger model
/// (if any) is asked.
struct TriggerModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file: its trigger model is asked; its monitoring rules, signatures and errorRate apply.",
                                            valueName: "file"))
    var config: String?

    @Option(name: .customLong("trigger-url"), help: ArgumentHelp("The trigger model server, instead of the configuration's.", valueName: "url"))
    var triggerURL: String?

    @Option(name: .customLong("trigger-key-file"), help: ArgumentHelp("The key that server requires.", valueName: "file"))
    var triggerKeyFile: String?

    @Option(name: .long, help: "New templates per model request.")
    var batch = 8

    @Flag(name: .customLong("rules-only"), help: "Ask no model: the signatures, the journal-priority floor, operator rules and the error-rate trigger only.")
    var rulesOnly = false

    /// The configuration (built-in defaults without --config), with its rules and signature overrides checked.
    func configuration(_ program: String) throws -> DaemonConfiguration {
        guard (1...64).contains(batch) else { throw CommandSupport.fail(program, ["--batch must be between 1 and 64, got \(batch)"]) }
        let configuration: DaemonConfiguration
        do {
            configuration = try config.map { path throws(ConfigurationError) in try DaemonConfiguration.load(from: path) } ?? DaemonConfiguration()
            _ = try configuration.monitoring.rules.map(OperatorRule.init)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        let problems = SignaturePack.problems(in: configuration.monitoring)
        guard problems.isEmpty else { throw CommandSupport.fail(program, problems.map(\.description)) }
        return configuration
    }

    /// The trigger model's classifier; nil with --rules-only. Fails when its server does not answer ready: every
    /// template would fail against it, and saying so once is better.
    func classifier(_ configuration: DaemonConfiguration, _ program: String) async throws -> TriggerClassifier? {
        guard !rulesOnly else { return nil }
        let endpoint = try Self.endpoint(.trigger, url: triggerURL, keyFile: triggerKeyFile, configuration, program: program)
        let client = OpenAIClient(endpoint: endpoint, timeouts: .init(connect: .seconds(5), total: .seconds(300), idle: .seconds(120)))
        switch await client.health() {
        case .ready: return TriggerClassifier(client: client)
        case .loading: throw CommandSupport.fail(program, ["the trigger model at \(endpoint.baseURL) is still loading; try again shortly, or use --rules-only"])
        case .unavailable(let why): throw CommandSupport.fail(program, ["the trigger model at \(endpoint.baseURL) is not available (\(why)); start it, or use --rules-only"])
        }
    }

    /// A layer's server: `url` with `keyFile` (or no key) when given by hand, else the configuration's URL and key.
    static func endpoint(_ layer: ModelLayer, url: String?, keyFile: String?, _ configuration: DaemonConfiguration,
                         program: String) throws -> ModelEndpoint {
        let file = url == nil ? keyFile ?? configuration.apiKeyFile(for: layer) : keyFile
        do {
            return ModelEndpoint(baseURL: url ?? configuration.baseURL(for: layer), apiKey: try file.map { try ModelAPIKey.read(from: $0) },
                                 modelName: configuration.models[layer].servedModelName(as: layer))
        } catch {
            throw CommandSupport.fail(program, ["\(error) (--\(layer.rawValue)-key-file)"])
        }
    }

    /// The log dump at `path`, or a failure that names it.
    static func reader(_ path: String, _ program: String) throws -> LogDumpReader {
        do {
            return try LogDumpReader(path: path)
        } catch {
            throw CommandSupport.fail(program, ["cannot read \(path): \(error.localizedDescription)"])
        }
    }
}
