import ArgumentParser
import CommandSupport
import Foundation
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
            let issues = ConfigurationValidator(keyFilesArriveAtStart: keyFilesAtStart).validate(configuration)
                + SignaturePack.problems(in: configuration.monitoring)
            guard issues.isEmpty else { throw CommandSupport.fail(file, issues.map(\.description)) }
            print("\(file): ok")
        }
    }
}
