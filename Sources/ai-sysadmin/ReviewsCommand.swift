import ArgumentParser
import CommandSupport
import Foundation
import Monitoring
import Reasoning
import Store
import SysadminConfiguration

/// `ai-sysadmin reviews`: what Layer 3 concluded, newest first.
struct ReviewsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reviews", abstract: "List the reviews in the store, newest first.")

    @OptionGroup var location: StoreOptions

    @Option(name: .long, help: "At most this many reviews.")
    var limit = 20

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() throws {
        let program = "ai-sysadmin reviews"
        guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
        let store = try location.open(program, mustExist: true)
        let reviews: [(time: Date, review: Review)]
        do {
            reviews = try store.reviews(limit: limit)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
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
            for action in review.proposedActions { print("    proposed \(action.displayText)") }
        }
    }
}
