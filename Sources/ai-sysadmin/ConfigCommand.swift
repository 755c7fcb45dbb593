import ArgumentParser
import CommandSupport
import Foundation
import ModelFiles
import Monitoring
import SysadminConfiguration

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print an example configuration or check one.",
        subcommands: [Example.self, Check.self])

    struct Example: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a complete configuration with every default.")

        func run() {
            print(DaemonConfiguration().encodedJSON())
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file: keys, ports, exposure, model files. Exit status 1 on any problem.")

        @Argument(help: "The configuration file to check.")
        var file: String

        @Flag(name: .customLong("key-files-at-start"), help: "Key files are credentials that exist only once the units start (the NixOS module's build-time check): do not look for them, nor require api keys here.")
        var keyFilesAtStart = false

        func run() throws {
            let configuration: DaemonConfiguration
            do {
                configuration = try DaemonConfiguration.load(from: file)
            } catch {
                throw CommandSupport.fail(file, ["\(error)"])
            }
            let issues = ConfigurationValidator(keyFilesArriveAtStart: keyFilesAtStart).validate(configuration).map(\.description)
                + Self.unknownModelNames(in: configuration) + SignaturePack.problems(in: configuration.monitoring).map(\.description)
            guard issues.isEmpty else { throw CommandSupport.fail(file, issues) }
            print("\(file): ok")
        }

        /// A model systemd runs (`external`: the NixOS units, `scripts/install`) given by a name `models pull` does
        /// not know and with no file under that name: nothing would ever download it, and its unit would wait for ever.
        /// (A managed layer's missing file is the validator's.)
        static func unknownModelNames(in configuration: DaemonConfiguration) -> [String] {
            let catalog = ModelCatalog.builtIn
            return ModelLayer.allCases.compactMap { layer in
                let server = configuration.models[layer]
                guard server.enable, server.backend == .external, !server.model.contains("/"), catalog[server.model] == nil else { return nil }
                let path = ModelReference.resolve(server.model, modelDirectory: configuration.resolvedModelDirectory)
                guard !FileManager.default.fileExists(atPath: path) else { return nil }
                return "models.\(layer).model: '\(server.model.prefix(64))' is neither a name of the built-in catalog `ai-sysadmin models pull` knows "
                    + "(\(catalog.entries.map(\.name).joined(separator: ", "))) nor a file at \(path); give a .gguf path or one of those names"
            }
        }
    }
}
