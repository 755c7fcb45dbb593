import ArgumentParser
import CommandSupport
import Fleet
import Foundation
import Monitoring
import Reasoning
import Store
import SysadminConfiguration

/// `ai-sysadmin reviews`: what Layer 3 concluded, newest first.
struct ReviewsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reviews", abstract: "List the reviews in the store (or a fleet's: --fleet, --host), newest first.")

    @OptionGroup var location: StoreOptions

    @OptionGroup var fleet: FleetScopeOptions

    @Option(name: .long, help: "At most this many reviews.")
    var limit = 20

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() async throws {
        let program = "ai-sysadmin reviews"
        guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
        if let scope = try fleet.scope(program) {
            let found = try await FleetScopeOptions.reading(program) { try await scope.fleet.conclusions(.review, host: scope.host, limit: limit) }
            for (host, _, time, document) in found {
                // Another host's document: shown only if it is a review this version reads.
                guard let review = try? JSONDecoder().decode(Review.self, from: Data(document.utf8)) else { continue }
                if json { print(FleetJSON.line(host: host, "review", review)) } else { Self.show(review, at: time, host: host) }
            }
            return
        }
        let store = try location.open(program, mustExist: true)
        let reviews: [(time: Date, review: Review)]
        do {
            reviews = try store.reviews(limit: limit)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (time, review) in reviews {
            if json {
                print(String(decoding: try encoder.encode(review), as: UTF8.self))
                continue
            }
            Self.show(review, at: time)
        }
    }

    /// One review; from a fleet host (`host`), whose words reach the terminal only cleaned of control characters.
    static func show(_ review: Review, at time: Date, host: String? = nil) {
        let emit: (String) -> Void = { print(host == nil ? $0 : FleetOperator.text($0)) }
        emit("\(ISO8601DateFormatter().string(from: time))  \(host.map { "\($0)  " } ?? "")\(review.status.rawValue)"
            + "\(review.escalate ? " (escalate: \(review.escalationReason))" : "")  \(review.summary)")
        for issue in review.issues { emit("    issue [\(issue.severity.rawValue)] \(issue.description) \(issue.units.joined(separator: " "))") }
        for action in review.proposedActions { emit("    proposed \(action.displayText)") }
    }
}
