import ArgumentParser
import CommandSupport
import Foundation
import ModelFiles
import Synchronization
import SysadminConfiguration

/// `ai-sysadmin models list | pull NAME… | path NAME | check NAME…`: the known model names, and their files.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Known model names, their files, and downloading them (resumable, checksum-verified).",
        subcommands: [List.self, Pull.self, Path.self, Check.self])

    /// Where models go and which names exist: shared by the subcommands.
    struct Location: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Configuration file; its modelDirectory is where models go.", valueName: "file"))
        var config: String?

        @Option(name: .customLong("model-dir"), help: ArgumentHelp("The model directory, instead of the configuration's.", valueName: "dir"))
        var modelDirectory: String?

        @Option(name: .long, help: ArgumentHelp("A JSON catalog adding or replacing names: {\"NAME\": {\"url\", \"sha256\", \"size\"?, \"summary\"?}}.", valueName: "file"))
        var catalog: String?

        func resolve(_ program: String) throws -> (directory: String, catalog: ModelCatalog) {
            do {
                let configuration = try config.map { path throws(ConfigurationError) in try DaemonConfiguration.load(from: path) }
                    ?? DaemonConfiguration()
                let directory = modelDirectory ?? configuration.resolvedModelDirectory
                let catalog = try catalog.map { path throws(ModelCatalogError) in try ModelCatalog.builtIn.merging(file: path) }
                    ?? ModelCatalog.builtIn
                return (directory, catalog)
            } catch {
                throw CommandSupport.fail(program, ["\(error)"])
            }
        }
    }

    static func unknown(_ name: String, in catalog: ModelCatalog) -> String {
        "unknown model name '\(name.prefix(64))'; known: \(catalog.entries.map(\.name).joined(separator: ", ")) (or give a .gguf path in the configuration)"
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The known names, their files, and whether each is present.")
        @OptionGroup var location: Location

        func run() throws {
            let (directory, catalog) = try location.resolve("ai-sysadmin models list")
            print("NAME            SIZE       PRESENT  FILE")
            for entry in catalog.entries {
                let file = ModelReference.resolve(entry.name, modelDirectory: directory)
                let size = entry.size.map { "\(ByteCount.text($0))" } ?? "?"
                let present = FileManager.default.fileExists(atPath: file) ? "yes" : "no"
                print(entry.name.padding(toLength: 16, withPad: " ", startingAt: 0)
                      + size.padding(toLength: 11, withPad: " ", startingAt: 0)
                      + present.padding(toLength: 9, withPad: " ", startingAt: 0) + file)
                if !entry.summary.isEmpty { print("                \(entry.summary)") }
            }
        }
    }

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the file a model name resolves to (the daemon's rule).")
        @OptionGroup var location: Location
        @Argument(help: "A model name, such as qwen3:14b.") var name: String

        func run() throws {
            let (directory, _) = try location.resolve("ai-sysadmin models path")
            print(ModelReference.resolve(name, modelDirectory: directory))
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that every name is one `models pull` knows; exit status 1 naming those it does not (the NixOS module's build runs it).")
        @OptionGroup var location: Location
        @Argument(help: "Model names.") var names: [String]

        func validate() throws {
            guard !names.isEmpty else { throw ValidationError("give at least one model name (see `ai-sysadmin models list`)") }
        }

        func run() throws {
            let program = "ai-sysadmin models check"
            let (_, catalog) = try location.resolve(program)
            let unknown = names.filter { catalog[$0] == nil }
            guard unknown.isEmpty else { throw CommandSupport.fail(program, unknown.map { ModelsCommand.unknown($0, in: catalog) }) }
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download models into the model directory: resumable, checksum-verified, renamed into place when complete.",
            discussion: "Several names are pulled one after the other; a failure of one does not stop the others, but makes the exit status 1.")
        @OptionGroup var location: Location
        @Argument(help: "Names from `ai-sysadmin models list`.") var names: [String]

        func validate() throws {
            guard !names.isEmpty else { throw ValidationError("give at least one model name (see `ai-sysadmin models list`)") }
        }

        func run() async throws {
            let program = "ai-sysadmin models pull"
            let (directory, catalog) = try location.resolve(program)
            var failures: [String] = []
            for name in names {
                do {
                    try await pull(name, into: directory, from: catalog)
                } catch {
                    failures.append("\(name): \(error)")
                }
            }
            guard failures.isEmpty else { throw CommandSupport.fail(program, failures) }
        }

        private func pull(_ name: String, into directory: String, from catalog: ModelCatalog) async throws {
            let destination = ModelReference.resolve(name, modelDirectory: directory)
            // A file already in place is enough, catalogued or not (the NixOS module pulls every named model).
            if !name.contains("/"), FileManager.default.fileExists(atPath: destination) {
                print("\(destination) is already there; delete it to download again")
                return
            }
            guard let entry = catalog[name] else { throw PullError(message: ModelsCommand.unknown(name, in: catalog)) }
            let progress = ProgressLine(interactive: isatty(STDERR_FILENO) == 1)
            FileHandle.standardError.write(Data("\(entry.name) → \(destination)\n".utf8))
            let outcome: ModelDownloader.Outcome
            do {
                outcome = try await ModelDownloader().pull(entry, to: destination) { event in progress.show(event) }
            } catch {
                progress.finish()
                throw error
            }
            progress.finish()
            switch outcome {
            case .alreadyPresent: print("\(destination) is already there; delete it to download again")
            case .downloaded: print("\(destination): \(entry.name), SHA-256 verified")
            }
        }

        struct PullError: Error, CustomStringConvertible {
            let message: String
            var description: String { message }
        }
    }
}

/// The download's progress on standard error: one rewritten line on a terminal, a line per 10% otherwise
/// (a journal or a log file).
final class ProgressLine: Sendable {
    private struct State {
        var started = ContinuousClock.now
        var lastDrawn = ContinuousClock.now - .seconds(1)
        var lastTenth = -1
        var drawn = false
    }
    private let interactive: Bool
    private let state = Mutex(State())

    init(interactive: Bool) {
        self.interactive = interactive
    }

    func show(_ event: ModelDownloadEvent) {
        switch event {
        case .notice(let text):
            finish()
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        case .progress(let bytes, let total):
            let line: String? = state.withLock { state in
                let now = ContinuousClock.now
                let percent = total.map { $0 > 0 ? Int(bytes * 100 / $0) : 100 }
                if interactive {
                    guard now - state.lastDrawn >= .milliseconds(200) || bytes == total else { return nil }
                    state.lastDrawn = now
                    state.drawn = true
                } else {
                    let tenth = (percent ?? 0) / 10
                    guard tenth > state.lastTenth else { return nil }
                    state.lastTenth = tenth
                }
                let seconds = max(0.001, Double((now - state.started).components.seconds) + Double((now - state.started).components.attoseconds) / 1e18)
                let rate = Double(bytes) / seconds
                var text = total.map { "\(percent ?? 0)% \(ByteCount.text(bytes)) of \(ByteCount.text($0))" } ?? ByteCount.text(bytes)
                text += ", \(ByteCount.text(Int64(rate)))/s"
                if let total, rate > 0, bytes < total { text += ", \(Int(Double(total - bytes) / rate)) s left" }
                return interactive ? "\r\u{1B}[K  " + text : "  " + text + "\n"
            }
            if let line { FileHandle.standardError.write(Data(line.utf8)) }
        }
    }

    func finish() {
        let wasDrawn = state.withLock { state in
            defer { state.drawn = false }
            return state.drawn
        }
        if wasDrawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
