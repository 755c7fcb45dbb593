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
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            print(row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  "))
        }
        if let monitoring = status.monitoring { print("\n" + Self.describe(monitoring)) }
    }

    /// `layer 1: 3 templates wait for a verdict (oldest 42s), 12 lines held, …`
    static func describe(_ backlog: MonitoringBacklog) -> String {
        var parts = ["\(backlog.templatesWaiting) template\(backlog.templatesWaiting == 1 ? "" : "s") wait for a verdict"
            + (backlog.oldestWaitingSeconds.map { " (oldest \(formatUptime($0)))" } ?? "")]
        parts.append("\(backlog.linesHeld) line\(backlog.linesHeld == 1 ? "" : "s") held")
        if backlog.provisionalLines > 0 { parts.append("\(backlog.provisionalLines) decided by rules alone, to be judged again") }
        parts.append("\(backlog.classificationFailuresLastHour) classification failure\(backlog.classificationFailuresLastHour == 1 ? "" : "s") in the last hour")
        return "layer 1: " + parts.joined(separator: ", ") + "; trigger model \(backlog.triggerModel)"
    }

    static func formatUptime(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(total % 60)s" }
        return "\(total / 3600)h\((total % 3600) / 60)m"
    }
}
