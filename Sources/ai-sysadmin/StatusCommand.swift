import ArgumentParser
import CommandSupport
import Foundation
import ModelSupervisor
import Monitoring
import SysadminConfiguration

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each model server's backend, state, pid, endpoint, uptime, restarts and last error, and Layer 1's backlog.")

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("The daemon's state directory (where control.sock lives).", valueName: "dir"))
    var stateDirectory = DaemonConfiguration().stateDirectory

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let status: SupervisorStatus
        do {
            status = try ControlClient(stateDirectory: stateDirectory).status()
        } catch {
            throw CommandSupport.fail("ai-sysadmin", ["\(error)"])
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
            return
        }
        func row(_ name: String, _ backend: String, _ state: ModelLifecycle.State, _ pid: Int32?, _ endpoint: String,
                 _ uptime: Double?, _ restarts: Int, _ lastError: String?) -> [String] {
            [name, backend, state.rawValue, pid.map(String.init) ?? "-", endpoint, uptime.map(Self.formatUptime) ?? "-",
             String(restarts), lastError.map { String($0.split(separator: "\n").first ?? "") } ?? "-"]
        }
        var rows = status.models.map { model in
            row(model.layer.rawValue, model.backend.rawValue, model.state, model.pid, model.endpoint, model.uptimeSeconds,
                model.restarts, model.lastError)
        }
        if let gateway = status.gateway {
            rows.append(row("gateway", "managed", gateway.state, gateway.pid, gateway.endpoint, gateway.uptimeSeconds,
                            gateway.restarts, gateway.lastError))
        }
        let header = ["SERVER", "BACKEND", "STATE", "PID", "ENDPOINT", "UPTIME", "RESTARTS", "LAST ERROR"]
        for line in TextTable.lines(header: header, rows: rows) { print(line) }
        if let monitoring = status.monitoring { print("\n" + Self.describe(monitoring)) }
        if let fleet = status.fleet { print(Self.describe(fleet)) }
    }

    /// `layer 1: 3 templates wait for a verdict (oldest 42s), 12 lines held, …`
    static func describe(_ backlog: MonitoringBacklog) -> String {
        var parts = ["\(backlog.templatesWaiting) template\(backlog.templatesWaiting == 1 ? "" : "s") wait for a verdict"
            + (backlog.oldestWaitingSeconds.map { " (oldest \(formatUptime($0)))" } ?? "")]
        parts.append("\(backlog.linesHeld) line\(backlog.linesHeld == 1 ? "" : "s") held")
        if backlog.provisionalLines > 0 { parts.append("\(backlog.provisionalLines) decided by rules alone, to be judged again") }
        parts.append("\(backlog.classificationFailuresLastHour) classification failure\(backlog.classificationFailuresLastHour == 1 ? "" : "s") in the last hour")
        let asked = "\(backlog.modelCalls) request\(backlog.modelCalls == 1 ? "" : "s") since start"
            + (backlog.sharedVerdicts > 0 ? ", \(backlog.sharedVerdicts) verdict\(backlog.sharedVerdicts == 1 ? "" : "s") taken from the fleet instead" : "")
        return "layer 1: " + parts.joined(separator: ", ") + "; trigger model \(backlog.triggerModel) (\(asked))"
    }

    /// `store: published to the fleet as web1, 2s ago (…)` or `store: DEGRADED …`.
    static func describe(_ fleet: FleetLinkStatus, now: Date = Date()) -> String {
        let counts = "\(fleet.eventsPublished) events and \(fleet.auditLinesPublished) audit lines published since start"
        if let away = fleet.awaySince {
            return "store: DEGRADED — the fleet's database has not answered for \(formatUptime(now.timeIntervalSince(away))) "
                + "(\(fleet.lastError ?? "no answer")); \(fleet.host) keeps working on its SQLite file and sends what waits when it is back; \(counts)"
        }
        guard let last = fleet.lastPublished else { return "store: publishing to the fleet as \(fleet.host) (nothing sent yet)" }
        return "store: published to the fleet as \(fleet.host), \(formatUptime(now.timeIntervalSince(last))) ago; \(counts)"
    }

    static func formatUptime(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(total % 60)s" }
        return "\(total / 3600)h\((total % 3600) / 60)m"
    }
}
