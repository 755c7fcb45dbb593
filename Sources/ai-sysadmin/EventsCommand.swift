import ArgumentParser
import CommandSupport
import Foundation
import Monitoring
import Store
import SysadminConfiguration

/// `ai-sysadmin events`: what Layer 1 flagged, from the store.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "List the trigger events in the store, oldest first, with what set each one's severity.")

    @OptionGroup var location: StoreOptions

    @Option(name: .long, help: ArgumentHelp("Only events at or after this time: ISO 8601, or an age such as 30m, 6h, 2d.", valueName: "time"))
    var since: String?

    @Option(name: .long, help: "At most this many events.")
    var limit = 200

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() throws {
        let program = "ai-sysadmin events"
        let start = try Self.since(since, program: program)
        guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
        let store = try location.open(program, mustExist: true)
        let events: [StoredEvent]
        do {
            events = try store.events(since: start, limit: limit)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let formatter = ISO8601DateFormatter()
        for event in events {
            if json {
                print(String(decoding: try encoder.encode(event), as: UTF8.self))
            } else {
                let time = formatter.string(from: Date(timeIntervalSince1970: Double(event.timeMicroseconds) / 1_000_000))
                // What set the severity: the model, a rule, the priority floor, a signature (by id), an error burst, a metric.
                print("\(time)  \(event.severity.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(event.category.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) [\(event.source)] \(event.unit ?? event.identifier ?? "-")  \(event.summary) — \(event.message.prefix(160))")
            }
        }
    }

    /// `--since`: nil when not given, else the time it names; an error that shows the value otherwise.
    static func since(_ text: String?, program: String) throws -> Date? {
        guard let text else { return nil }
        guard let date = time(text) else {
            throw CommandSupport.fail(program, ["--since '\(text.prefix(40))' is neither ISO 8601 nor an age such as 30m, 6h or 2d"])
        }
        return date
    }

    /// ISO 8601, or an age back from now: `90s`, `30m`, `6h`, `2d`.
    static func time(_ text: String, now: Date = Date()) -> Date? {
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let unit = text.last.flatMap({ units[$0] }), let amount = Double(text.dropLast()), amount >= 0 else { return nil }
        return now.addingTimeInterval(-amount * unit)
    }
}
