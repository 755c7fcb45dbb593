import Foundation
import SysadminConfiguration

/// Everything the system may change, as a closed set of typed actions. A model proposes by name and
/// strings; ``ActionValidator`` turns a proposal into one of these or rejects it with the reason. The risk
/// class is fixed here, in code — never taken from a model.
public enum Action: Sendable, Equatable {
    case restartUnit(String)
    case reloadUnit(String)
    case startUnit(String)
    case stopUnit(String)
    case resetFailed(String)
    case vacuumJournal(maxMegabytes: Int?, maxDays: Int?)
    case collectGarbage(olderThanDays: Int)
    case killProcess(pid: Int32, signal: Int32)
    case nixosRebuild(NixosRebuildMode)
    case investigate(Investigation)

    public enum NixosRebuildMode: String, Sendable, CaseIterable { case switchTo = "switch", test, boot }

    /// Read-only commands, from a fixed table; only their typed parameters vary.
    public enum Investigation: Sendable, Equatable {
        case unitStatus(String)
        case unitJournal(String, lines: Int)
        case diskUsage
        case processList
    }

    public enum Risk: String, Sendable, Comparable, CaseIterable {
        case low, medium, high
        public static func < (a: Risk, b: Risk) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    public var name: String {
        switch self {
        case .restartUnit: "restart_unit"
        case .reloadUnit: "reload_unit"
        case .startUnit: "start_unit"
        case .stopUnit: "stop_unit"
        case .resetFailed: "reset_failed"
        case .vacuumJournal: "vacuum_journal"
        case .collectGarbage: "collect_garbage"
        case .killProcess: "kill_process"
        case .nixosRebuild: "nixos_rebuild"
        case .investigate: "investigate"
        }
    }

    public var risk: Risk {
        switch self {
        case .investigate, .resetFailed, .reloadUnit: .low
        case .restartUnit, .startUnit, .vacuumJournal, .collectGarbage: .medium
        case .stopUnit, .killProcess, .nixosRebuild: .high
        }
    }

    /// The manager's verb for a unit action (what polkit and ``UnitPolicy`` judge), nil for the rest.
    public var verb: UnitPolicy.Verb? {
        switch self {
        case .restartUnit: .restart
        case .reloadUnit: .reload
        case .startUnit: .start
        case .stopUnit: .stop
        case .resetFailed: .resetFailed
        default: nil
        }
    }

    /// The unit this acts on, if any.
    public var unit: String? {
        switch self {
        case .restartUnit(let unit), .reloadUnit(let unit), .startUnit(let unit), .stopUnit(let unit), .resetFailed(let unit): unit
        case .investigate(.unitStatus(let unit)), .investigate(.unitJournal(let unit, _)): unit
        default: nil
        }
    }
}

/// A proposal as a model (or an operator) states it: a type and untyped parameters.
public struct ProposedAction: Sendable, Equatable {
    public var type: String
    public var parameters: [String: String]

    public init(type: String, parameters: [String: String]) {
        self.type = type
        self.parameters = parameters
    }
}

/// Turns proposals into ``Action``s, or says why not. Nothing is repaired: a unit name with a stray character is
/// rejected, not trimmed. Unit actions pass ``UnitPolicy``: services only, never a protected one, whatever the verb.
public struct ActionValidator: Sendable {
    /// The built-in unit policy with the configuration's protected units and the daemon's own unit added.
    public let units: UnitPolicy
    let procRoot: String

    /// `extraProtected`: the configuration's list (names or `*` patterns), plus the daemon's own unit.
    public init(extraProtected: [String] = [], procRoot: String = "/proc") {
        units = UnitPolicy.builtIn.protecting(extraProtected)
        self.procRoot = procRoot
    }

    public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }

        public init(reason: String) {
            self.reason = reason
        }
    }

    public func validate(_ proposal: ProposedAction) -> Result<Action, Rejection> {
        func reject(_ reason: String) -> Result<Action, Rejection> { .failure(Rejection(reason: reason)) }
        func unit(_ key: String = "unit") -> Result<String, Rejection> {
            guard let name = proposal.parameters[key] else { return .failure(Rejection(reason: "\(proposal.type) needs '\(key)'")) }
            guard UnitName.isValid(name) else {
                return .failure(Rejection(reason: "'\(Self.printable(name))' is not a valid systemd unit name"))
            }
            return .success(name)
        }
        func integer(_ key: String, in range: ClosedRange<Int>) -> Result<Int?, Rejection> {
            guard let text = proposal.parameters[key] else { return .success(nil) }
            guard let value = Int(text), range.contains(value) else {
                return .failure(Rejection(reason: "'\(key)' must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(Self.printable(text))'"))
            }
            return .success(value)
        }
        let known: Set<String> = switch proposal.type {
        case "restart_unit", "reload_unit", "start_unit", "stop_unit", "reset_failed": ["unit"]
        case "vacuum_journal": ["max_megabytes", "max_days"]
        case "collect_garbage": ["days"]
        case "kill_process": ["pid", "signal"]
        case "nixos_rebuild": ["mode"]
        case "investigate": ["command", "unit", "lines"]
        default: []
        }
        if !known.isEmpty, let unknown = proposal.parameters.keys.sorted().first(where: { !known.contains($0) }) {
            return reject("unknown parameter '\(Self.printable(unknown))' for \(Self.printable(proposal.type))")
        }
        switch proposal.type {
        case "restart_unit", "reload_unit", "start_unit", "stop_unit", "reset_failed":
            switch unit() {
            case .failure(let rejection): return .failure(rejection)
            case .success(let name):
                let action: Action = switch proposal.type {
                case "restart_unit": .restartUnit(name)
                case "reload_unit": .reloadUnit(name)
                case "start_unit": .startUnit(name)
                case "stop_unit": .stopUnit(name)
                default: .resetFailed(name)
                }
                if let verb = action.verb, let refusal = units.refusal(verb, name) { return reject(refusal) }
                return .success(action)
            }
        case "vacuum_journal":
            guard case .success(let size) = integer("max_megabytes", in: 50...1_000_000),
                  case .success(let days) = integer("max_days", in: 1...3650) else {
                return reject("vacuum_journal takes max_megabytes (50 or more) and/or max_days (1–3650)")
            }
            guard size != nil || days != nil else { return reject("vacuum_journal needs max_megabytes or max_days") }
            return .success(.vacuumJournal(maxMegabytes: size, maxDays: days))
        case "collect_garbage":
            guard case .success(let days?) = integer("days", in: 1...3650) else {
                return reject("collect_garbage needs days (1–3650): generations older than that are deleted")
            }
            return .success(.collectGarbage(olderThanDays: days))
        case "kill_process":
            guard case .success(let pid?) = integer("pid", in: 2...Int(Int32.max)) else { return reject("kill_process needs a pid above 1") }
            let signal: Int32
            switch proposal.parameters["signal"] ?? "TERM" {
            case "TERM", "SIGTERM", "15": signal = SIGTERM
            case "KILL", "SIGKILL", "9": signal = SIGKILL
            case "HUP", "SIGHUP", "1": signal = SIGHUP
            case let other: return reject("signal '\(Self.printable(other))' is not one of TERM, KILL, HUP")
            }
            return validateProcess(Int32(pid)).map { _ in .killProcess(pid: Int32(pid), signal: signal) }
        case "nixos_rebuild":
            guard let mode = proposal.parameters["mode"].flatMap(Action.NixosRebuildMode.init) else {
                return reject("nixos_rebuild needs mode: switch, test or boot")
            }
            return .success(.nixosRebuild(mode))
        case "investigate":
            switch proposal.parameters["command"] {
            case "unit_status":
                return unit().map { .investigate(.unitStatus($0)) }
            case "unit_journal":
                guard case .success(let lines) = integer("lines", in: 1...1000) else { return reject("unit_journal takes lines (1–1000)") }
                return unit().map { .investigate(.unitJournal($0, lines: lines ?? 100)) }
            case "disk_usage": return .success(.investigate(.diskUsage))
            case "process_list": return .success(.investigate(.processList))
            default:
                return reject("investigate needs command: unit_status, unit_journal, disk_usage or process_list")
            }
        default:
            return reject("unknown action type '\(Self.printable(proposal.type))'")
        }
    }

    /// The pid must be a live process that is not PID 1 and does not belong to a protected unit.
    func validateProcess(_ pid: Int32) -> Result<Void, Rejection> {
        guard let units = Self.cgroupComponents(ofProcess: "\(pid)", procRoot: procRoot) else {
            return .failure(Rejection(reason: "no process \(pid) is running"))
        }
        for unit in units {
            if let pattern = self.units.protection(of: unit) {
                return .failure(Rejection(reason: "process \(pid) belongs to \(unit), which is protected (\(pattern))"))
            }
        }
        return .success(())
    }

    /// The systemd units (`*.service`, `*.scope`) a process's cgroup path names; empty outside systemd.
    public static func units(ofProcess process: String, procRoot: String = "/proc") -> [String] {
        (cgroupComponents(ofProcess: process, procRoot: procRoot) ?? []).filter { $0.hasSuffix(".service") || $0.hasSuffix(".scope") }
    }

    /// "0::/system.slice/sshd.service" (cgroup v2), or v1 lines ending in the unit's path: every path component.
    static func cgroupComponents(ofProcess process: String, procRoot: String) -> [String]? {
        guard let cgroup = try? String(contentsOfFile: "\(procRoot)/\(process)/cgroup", encoding: .utf8) else { return nil }
        return cgroup.split(separator: "\n").flatMap { line in
            (line.split(separator: ":", maxSplits: 2).last ?? "").split(separator: "/").map(String.init)
        }
    }

    /// A model's string as shown in a reason or stored: control characters replaced, at most `limit` characters.
    public static func printable(_ text: String, limit: Int = 80) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit).map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }
}
