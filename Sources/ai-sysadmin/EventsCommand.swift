import ArgumentParser
import CommandSupport
import Fleet
import Foundation
import Monitoring
import Store
import SysadminConfiguration

/// `ai-sysadmin events`: what Layer 1 flagged, from the store.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "List the trigger events in the store (or a fleet's: --fleet, --host), oldest first, with what set each one's severity.")

    @OptionGroup var location: StoreOptions

    @OptionGroup var fleet: FleetScopeOptions

    @Option(name: .long, help: ArgumentHelp("Only events at or after this time: ISO 8601, or an age such as 30m, 6h, 2d.", valueName: "time"))
    var since: String?

    @Option(name: .long, help: "At most this many events.")
    var limit = 200

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() async throws {
        let program = "ai-sysadmin events"
        let start = try Self.since(since, program: program)
        guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
        if let scope = try fleet.scope(program) {
            let events = try await FleetScopeOptions.reading(program) { try await scope.fleet.events(host: scope.host, since: start, limit: limit) }
            for event in events {
                print(json ? FleetJSON.line(host: event.host, "event", event)
                           : Self.line(time: event.time, severity: event.severity, category: event.category, source: event.source, unit: event.unit,
                                       summary: event.summary, message: event.message, host: event.host))
            }
            return
        }
        let store = try location.open(program, mustExist: true)
        let events: [StoredEvent]
        do {
            events = try store.events(since: start, limit: limit)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for event in events {
            if json {
                print(String(decoding: try encoder.encode(event), as: UTF8.self))
            } else {
                print(Self.line(time: Date(timeIntervalSince1970: Double(event.timeMicroseconds) / 1_000_000), severity: event.severity.rawValue,
                                category: event.category.rawValue, source: event.source, unit: event.unit ?? event.identifier, summary: event.summary,
                                message: event.message))
            }
        }
    }

    /// One event; `source` says what set the severity: the model, a rule, the priority floor, a signature (by id), an
    /// error burst, a metric. `host`: the fleet host it came from.
    static func line(time: Date, severity: String, category: String, source: String, unit: String?, summary: String, message: String,
                     host: String? = nil) -> String {
        "\(ISO8601DateFormatter().string(from: time))  \(host.map { "\($0)  " } ?? "")\(severity.padding(toLength: 8, withPad: " ", startingAt: 0)) "
            + "\(category.padding(toLength: 8, withPad: " ", startingAt: 0)) [\(source)] \(unit ?? "-")  \(summary) — \(message.prefix(160))"
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
