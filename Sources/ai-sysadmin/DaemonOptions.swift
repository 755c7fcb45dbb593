import ArgumentParser
import Foundation
import Reasoning
import SysadminConfiguration

/// The configuration file plus the flags that override it; shared by `run` and `config check`.
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("JSON configuration file (see `ai-sysadmin config example`). Without it, defaults apply.", valueName: "file"))
    var config: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("State directory (stateDirectory).", valueName: "dir"))
    var stateDirectory: String?

    @Option(name: .customLong("llama-server"), help: ArgumentHelp("llama-server binary: a path or a command in PATH (llamaServer).", valueName: "path"))
    var llamaServer: String?

    @Option(name: .customLong("trigger-model"), help: ArgumentHelp("Trigger model: a .gguf path or a name (models.trigger.model).", valueName: "model"))
    var triggerModel: String?
    @Option(name: .customLong("review-model"), help: ArgumentHelp("Review model (models.review.model).", valueName: "model"))
    var reviewModel: String?
    @Option(name: .customLong("meta-model"), help: ArgumentHelp("Meta model (models.meta.model).", valueName: "model"))
    var metaModel: String?

    @Option(name: .customLong("trigger-port"), help: ArgumentHelp("Trigger server port (models.trigger.port).", valueName: "port"))
    var triggerPort: Int?
    @Option(name: .customLong("review-port"), help: ArgumentHelp("Review server port (models.review.port).", valueName: "port"))
    var reviewPort: Int?
    @Option(name: .customLong("meta-port"), help: ArgumentHelp("Meta server port (models.meta.port).", valueName: "port"))
    var metaPort: Int?

    @Option(name: .customLong("model-key-file"), help: ArgumentHelp("The key file of every model server systemd runs here (models.*.apiKeyFile of external layers; never sent to a remote one); under systemd a credential, %d/model-key.", valueName: "file"))
    var modelKeyFile: String?

    @Option(name: .customLong("trigger-key-file"), help: ArgumentHelp("The trigger server's key file (models.trigger.apiKeyFile), e.g. a remote server's client key.", valueName: "file"))
    var triggerKeyFile: String?
    @Option(name: .customLong("review-key-file"), help: ArgumentHelp("The review server's key file (models.review.apiKeyFile).", valueName: "file"))
    var reviewKeyFile: String?
    @Option(name: .customLong("meta-key-file"), help: ArgumentHelp("The meta server's key file (models.meta.apiKeyFile), e.g. a central gateway's client key.", valueName: "file"))
    var metaKeyFile: String?

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
        let layerKeyFiles: [ModelLayer: String?] = [.trigger: triggerKeyFile, .review: reviewKeyFile, .meta: metaKeyFile]
        configuration.applyKeyFiles(modelKeyFile: modelKeyFile, layerKeyFiles: layerKeyFiles.compactMapValues { $0 })
        return configuration
    }
}
