import ArgumentParser
import CommandSupport
import Foundation
import MonitoringService
import Store
import SysadminConfiguration

/// Which store a command reads: `--store FILE`, or the daemon's, `<stateDirectory>/ai-sysadmin.sqlite` of
/// `--config`. Shared by `events`, `reviews`, `knowledge`, `approvals` and `audit`.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store; default <stateDirectory>/ai-sysadmin.sqlite of --config.", valueName: "file"))
    var store: String?

    @Option(name: .long, help: ArgumentHelp("Configuration file (for its state directory); default /etc/ai-sysadmin/config.json when it exists.", valueName: "file"))
    var config: String?

    /// Where the NixOS module and scripts/install put the daemon's configuration.
    static let systemConfiguration = "/etc/ai-sysadmin/config.json"


    /// The `--config` file's configuration, else the system's (/etc/ai-sysadmin/config.json), else the defaults.
    func configuration(_ program: String) throws -> DaemonConfiguration {
        try Self.configuration(file: config, program)
    }

    /// `file`'s configuration, else the system's (/etc/ai-sysadmin/config.json), else the defaults.
    static func configuration(file: String?, _ program: String) throws -> DaemonConfiguration {
        let file = file ?? (FileManager.default.fileExists(atPath: Self.systemConfiguration) ? Self.systemConfiguration : nil)
        do {
            return try file.map { file throws(ConfigurationError) in try DaemonConfiguration.load(from: file) } ?? DaemonConfiguration()
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
    }

    /// Opens the store; `mustExist`: a reader refuses to create an empty store where none was.
    func open(_ program: String, mustExist: Bool) throws -> SQLiteStore {
        let path = try store ?? configuration(program).storePath
        if mustExist, !FileManager.default.fileExists(atPath: path) {
            throw CommandSupport.fail(program, ["no store at \(path) (pass --store FILE, or --config for the daemon's)"])
        }
        do {
            return try SQLiteStore(path: path)
        } catch {
            throw CommandSupport.fail(program, ["the store \(path): \(error)"])
        }
    }

    /// The knowledge base over the store, with the configuration's embeddings endpoint if it has one.
    func knowledgeBase(_ program: String, mustExist: Bool) throws -> KnowledgeBase {
        let store = try open(program, mustExist: mustExist)
        do {
            return try KnowledgeBase(store: store, configuration: configuration(program).knowledge)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw CommandSupport.fail(program, ["knowledge.embeddings: \(error)"])
        }
    }
}
