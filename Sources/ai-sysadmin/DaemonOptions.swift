import ArgumentParser
import Foundation
import ModelSupervisor

/// The configuration file plus the flags that override it; shared by `run` and `config check`.
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: "JSON configuration file (see `ai-sysadmin config example`). Without it, defaults apply.")
    var config: String?

    @Option(name: .customLong("state-dir"), help: "State directory (stateDirectory).")
    var stateDirectory: String?

    @Option(name: .customLong("llama-server"), help: "llama-server binary: a path or a command in PATH (llamaServer).")
    var llamaServer: String?

    @Option(name: .customLong("trigger-model"), help: "Trigger model: a .gguf path or a name (models.trigger.model).")
    var triggerModel: String?
    @Option(name: .customLong("review-model"), help: "Review model (models.review.model).")
    var reviewModel: String?
    @Option(name: .customLong("meta-model"), help: "Meta model (models.meta.model).")
    var metaModel: String?

    @Option(name: .customLong("trigger-port"), help: "Trigger server port (models.trigger.port).")
    var triggerPort: Int?
    @Option(name: .customLong("review-port"), help: "Review server port (models.review.port).")
    var reviewPort: Int?
    @Option(name: .customLong("meta-port"), help: "Meta server port (models.meta.port).")
    var metaPort: Int?

    /// The file's configuration with every given flag applied on top.
    func load() throws(ConfigurationError) -> DaemonConfiguration {
        var configuration = try config.map { path throws(ConfigurationError) in try DaemonConfiguration.load(from: path) }
            ?? DaemonConfiguration()
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        if let llamaServer { configuration.llamaServer = llamaServer }
        let models: [(ModelLayer, String?, Int?)] = [
            (.trigger, triggerModel, triggerPort), (.review, reviewModel, reviewPort), (.meta, metaModel, metaPort),
        ]
        for (layer, model, port) in models {
            if let model { configuration.models[layer].model = model }
            if let port { configuration.models[layer].port = port }
        }
        return configuration
    }
}
