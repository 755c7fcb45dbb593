import ArgumentParser
import CommandSupport
import Foundation
import ModelSupervisor
import Monitoring
import Store

/// `ai-sysadmin reviews`: what Layer 3 concluded, newest first.
struct ReviewsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reviews", abstract: "List the reviews in the store, newest first.")

    @Option(name: .long, help: ArgumentHelp("The store; default <stateDirectory>/ai-sysadmin.sqlite of --config.", valueName: "file"))
    var store: String?

    @Option(name: .long, help: ArgumentHelp("Configuration file (for its state directory).", valueName: "file"))
    var config: String?

    @Option(name: .long, help: "At most this many reviews.")
    var limit = 20

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() throws {
        let program = "ai-sysadmin reviews"
        guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
        let path: String
        do {
            let configuration = try config.map { file throws(ConfigurationError) in try DaemonConfiguration.load(from: file) } ?? DaemonConfiguration()
            path = store ?? (configuration.stateDirectory as NSString).appendingPathComponent("ai-sysadmin.sqlite")
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandSupport.fail(program, ["no store at \(path) (pass --store FILE, or --config for the daemon's)"])
        }
        let reviews: [(time: Date, review: Review)]
        do {
            reviews = try SQLiteStore(path: path).reviews(limit: limit)
        } catch {
            throw CommandSupport.fail(program, ["the store \(path): \(error)"])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let formatter = ISO8601DateFormatter()
        for (time, review) in reviews {
            if json {
                print(String(decoding: try encoder.encode(review), as: UTF8.self))
                continue
            }
            print("\(formatter.string(from: time))  \(review.status.rawValue)\(review.escalate ? " (escalate: \(review.escalationReason))" : "")  \(review.summary)")
            for issue in review.issues { print("    issue [\(issue.severity.rawValue)] \(issue.description) \(issue.units.joined(separator: " "))") }
            for action in review.proposedActions { print("    proposed \(action.type) \(action.target): \(action.reason)") }
        }
    }
}
