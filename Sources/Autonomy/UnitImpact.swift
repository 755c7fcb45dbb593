import Foundation
import SysadminConfiguration
import Systemd

/// What else an action on a unit would touch, as systemd's manager tells it: the units that stop or restart with
/// it (they require it, are bound to it or are part of it), that reload with it, that starting it pulls in, and
/// that starting it stops (conflicts) — and whether its own emergency actions can take the host down.
///
/// Exploring reads the manager; judging (``verdict(_:)``) is pure, so the fences are unit-tested on hand-made
/// graphs. An action on `app.service` that would restart `sshd.service` because sshd requires it is refused like
/// an action on sshd itself.
public struct UnitImpact: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        case allowed
        /// Allowed only with a person's approval, for these reasons.
        case raised([String])
        case refused(String)
    }

    /// How a unit was reached: from which unit, through which property of it.
    struct Reach: Sendable, Equatable {
        let from: String
        let property: String
    }

    public let verb: UnitPolicy.Verb
    public let unit: String
    let relations: UnitRelations
    /// Units that stop or restart with `unit`, transitively.
    let goingDown: [String: Reach]
    /// Units that reload with it, transitively.
    let reloading: [String: Reach]
    /// Units that starting it pulls in, followed through services.
    let pulled: [String: Reach]
    /// A closure was cut off at ``limit`` units.
    let truncated: Bool

    /// The most units one exploration looks at; a unit with more dependents goes to a person.
    public static let limit = 64

    // MARK: Exploring

    /// Asks the manager about `unit` and, as far as `verb` propagates, the units around it.
    public static func explore(_ verb: UnitPolicy.Verb, _ unit: String, systemd: any SystemdManaging) async throws -> UnitImpact {
        var graph = try await systemd.relations(of: [unit])
        var truncated = false
        func closure(_ properties: [String], expanding: (String) -> Bool) async throws -> [String: Reach] {
            var reached: [String: Reach] = [:]
            var frontier = [unit]
            while !frontier.isEmpty, !truncated {
                let unknown = frontier.filter { graph[$0] == nil }
                if !unknown.isEmpty { graph.merge(try await systemd.relations(of: unknown)) { known, _ in known } }
                var next: [String] = []
                for current in frontier {
                    for property in properties {
                        for other in graph[current]?.units(property) ?? [] where other != unit && reached[other] == nil {
                            reached[other] = Reach(from: current, property: property)
                            if expanding(other) { next.append(other) }
                        }
                    }
                }
                if reached.count > limit { truncated = true }
                frontier = next
            }
            return reached
        }
        guard let relations = graph[unit] else { throw SystemdError(message: "the manager said nothing about \(unit)") }
        guard relations.loadState == "loaded" else {
            return UnitImpact(verb: verb, unit: unit, relations: relations, goingDown: [:], reloading: [:], pulled: [:], truncated: false)
        }
        let goingDown = verb == .stop || verb == .restart
            ? try await closure(["RequiredBy", "BoundBy", "ConsistsOf", "PropagatesStopTo"], expanding: { _ in true }) : [:]
        let reloading = verb == .reload ? try await closure(["PropagatesReloadTo"], expanding: { _ in true }) : [:]
        // What a start pulls in is followed through services only: targets, slices and mounts a service needs are
        // up already on a running host, and following them would walk the whole boot graph.
        let pulled = verb == .start || verb == .restart
            ? try await closure(["Requires", "Wants", "BindsTo", "Upholds", "OnFailure", "OnSuccess"], expanding: { $0.hasSuffix(".service") }) : [:]
        return UnitImpact(verb: verb, unit: unit, relations: relations, goingDown: goingDown, reloading: reloading, pulled: pulled,
                          truncated: truncated)
    }

    // MARK: Judging

    /// What automation may make of this impact under `policy`.
    public func verdict(_ policy: UnitPolicy) -> Verdict {
        switch relations.loadState {
        case "loaded": break
        case "not-found": return .refused("systemd has no unit \(unit)")
        case "masked": return .refused("\(unit) is masked")
        case let state: return .refused("\(unit) cannot be loaded (LoadState \(ActionValidator.printable(state, limit: 32)))")
        }
        let doing = verb.gerund + " " + unit
        var raised: [String] = []
        for (other, _) in goingDown.sorted(by: { $0.key < $1.key }) {
            let with = "\(doing) would also \(verb == .stop ? "stop" : "restart") \(other) (\(path(to: other, in: goingDown)))"
            if let pattern = policy.protection(of: other) { return .refused("\(with), which is protected (\(pattern))") }
            if policy.hostStateTargets.contains(other) { return .refused("\(with), which changes the state of the whole host") }
            if !policy.isActionableType(other) { raised.append(with) }
        }
        for (other, _) in reloading.sorted(by: { $0.key < $1.key }) {
            if let pattern = policy.protection(of: other) {
                return .refused("\(doing) would also reload \(other) (\(path(to: other, in: reloading))), which is protected (\(pattern))")
            }
        }
        for (other, _) in pulled.sorted(by: { $0.key < $1.key }) where policy.hostStateTargets.contains(other) {
            return .refused("\(doing) would also start \(other) (\(path(to: other, in: pulled))), which changes the state of the whole host")
        }
        if verb == .start || verb == .restart {
            for other in Set(relations.units("Conflicts") + relations.units("ConflictedBy")).sorted() {
                if let pattern = policy.protection(of: other) {
                    return .refused("\(doing) would stop \(other) (they conflict), which is protected (\(pattern))")
                }
                // Every unit with default dependencies conflicts with shutdown.target: starting it cancels no more
                // than a shutdown that is not happening.
                if !policy.hostStateTargets.contains(other) { raised.append("\(doing) would stop \(other) (they conflict)") }
            }
        }
        if verb != .reload && verb != .resetFailed {
            for (property, action) in relations.emergencyActions.sorted(by: { $0.key < $1.key }) {
                raised.append("\(unit) has \(property)=\(ActionValidator.printable(action, limit: 32)): it can take the whole host down")
            }
        }
        if truncated { raised.append("more than \(Self.limit) units are connected to \(unit); too many to judge automatically") }
        return raised.isEmpty ? .allowed : .raised(raised)
    }

    /// "sshd.service requires app.service", or the chain of such links from `unit` to `other`.
    private func path(to other: String, in reached: [String: Reach]) -> String {
        var links: [String] = []
        var current = other
        while let reach = reached[current], links.count < 8 {
            links.append(Self.link(reach.property, from: reach.from, to: current))
            current = reach.from
        }
        return links.reversed().joined(separator: "; ")
    }

    /// The property `property` of `from` names `to`, said as a sentence.
    private static func link(_ property: String, from: String, to: String) -> String {
        switch property {
        case "RequiredBy": "\(to) requires \(from)"
        case "BoundBy": "\(to) is bound to \(from)"
        case "ConsistsOf": "\(to) is part of \(from)"
        case "PropagatesStopTo": "\(from) propagates its stop to \(to)"
        case "PropagatesReloadTo": "\(from) propagates its reload to \(to)"
        case "Requires": "\(from) requires \(to)"
        case "Wants": "\(from) wants \(to)"
        case "BindsTo": "\(from) binds to \(to)"
        case "Upholds": "\(from) upholds \(to)"
        case "OnFailure": "\(from) starts \(to) when it fails"
        case "OnSuccess": "\(from) starts \(to) when it succeeds"
        default: "\(from) \(property) \(to)"
        }
    }
}
