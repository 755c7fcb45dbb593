import ActionService
import ArgumentParser
import CommandSupport
import Fleet
import Foundation
import Store

/// `ai-sysadmin audit`: every proposal's path to its fate, from the append-only audit table.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit log (or a fleet's: --fleet, --host): every proposal, who or what decided, the exact calls made, the results.")

    @OptionGroup var location: StoreOptions

    @OptionGroup var fleet: FleetScopeOptions

    @Option(name: .long, help: ArgumentHelp("Only entries at or after this time: ISO 8601, or an age such as 30m, 6h, 2d.", valueName: "time"))
    var since: String?

    @Option(name: .long, help: ArgumentHelp("Only proposals for this unit (e.g. nginx.service).", valueName: "unit"))
    var unit: String?

    @Option(name: .long, help: "At most this many entries (the oldest first).")
    var limit = 1000

    @Flag(name: .long, help: "One JSON object per line, as in the audit.jsonl file.")
    var json = false

    func run() async throws {
        let program = "ai-sysadmin audit"
        let start = try EventsCommand.since(since, program: program)
        guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
        if let scope = try fleet.scope(program) {
            let lines = try await FleetScopeOptions.reading(program) { try await scope.fleet.audit(host: scope.host, since: start, unit: unit, limit: limit) }
            for (host, entry) in lines {
                print(json ? FleetJSON.line(host: host, "entry", entry) : "\(host)  " + AuditText.line(entry))
            }
            return
        }
        let store = try location.open(program, mustExist: true)
        let entries: [AuditEntry]
        do {
            entries = try store.audit(after: 0, since: start, unit: unit, limit: limit)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        for entry in entries { print(json ? AuditLine.encode(entry) : AuditText.line(entry)) }
    }
}
