import Foundation
import SysadminConfiguration

/// What automation may touch, by unit: services only, and never a protected one, whatever the verb.
///
/// The built-in part is `Policy/unit-policy.json`, embedded at build time. It is the one list: the executor's
/// validator reads it here, and the polkit rule that backs the executor up at the system level is generated from
/// the same file (``polkitRule(user:executor:)`` for `ai-sysadmin polkit-rule`, and module.nix on NixOS), so the
/// two fences cannot drift apart.
public struct UnitPolicy: Sendable, Equatable {
    /// The manager's verbs for `org.freedesktop.systemd1.manage-units`, as polkit sees them.
    public enum Verb: String, Sendable, CaseIterable {
        case start, stop, restart, reload
        case resetFailed = "reset-failed"

        /// The verb as a person reads it in a refusal.
        var gerund: String {
            switch self {
            case .start: "starting"
            case .stop: "stopping"
            case .restart: "restarting"
            case .reload: "reloading"
            case .resetFailed: "resetting"
            }
        }
    }

    /// Unit types (the suffix without its dot) automation may act on.
    public let actionableUnitTypes: [String]
    /// The model server units the supervisor restarts (and nothing else may touch).
    public let modelUnits: [String]
    /// Built-in patterns first, then the configuration's `autonomy.protectedUnits`.
    public let protectedUnits: [UnitPattern]
    /// Targets that change the state of the whole host (reboot, poweroff, rescue…): nothing automation starts
    /// may pull one in.
    public let hostStateTargets: Set<String>

    private struct File: Decodable {
        let actionableUnitTypes: [String]
        let verbs: [String]
        let modelUnits: [String]
        let protectedUnits: [String]
        let hostStateTargets: [String]
    }

    /// The policy as built in, without any configured additions.
    public static let builtIn: UnitPolicy = {
        // The file is part of the binary; a malformed one is a build defect that the unit tests catch.
        let file = try! JSONDecoder().decode(File.self, from: Data(PackageResources.unit_policy_json))
        precondition(Set(file.verbs) == Set(Verb.allCases.map(\.rawValue)), "unit-policy.json's verbs differ from UnitPolicy.Verb")
        return UnitPolicy(actionableUnitTypes: file.actionableUnitTypes, modelUnits: file.modelUnits,
                          protectedUnits: file.protectedUnits.map { UnitPattern($0)! }, hostStateTargets: Set(file.hostStateTargets))
    }()

    init(actionableUnitTypes: [String], modelUnits: [String], protectedUnits: [UnitPattern], hostStateTargets: Set<String>) {
        self.actionableUnitTypes = actionableUnitTypes
        self.modelUnits = modelUnits
        self.protectedUnits = protectedUnits
        self.hostStateTargets = hostStateTargets
    }

    /// This policy with more protected units: exact names or `*` patterns (`autonomy.protectedUnits`, the daemon's
    /// own unit). Entries that are not valid patterns are ignored here; `config check` names them.
    public func protecting(_ more: [String]) -> UnitPolicy {
        var patterns = protectedUnits
        for pattern in more.compactMap(UnitPattern.init) where !patterns.contains(pattern) { patterns.append(pattern) }
        return UnitPolicy(actionableUnitTypes: actionableUnitTypes, modelUnits: modelUnits, protectedUnits: patterns,
                          hostStateTargets: hostStateTargets)
    }

    /// The pattern that protects `unit`, if any.
    public func protection(of unit: String) -> UnitPattern? {
        protectedUnits.first { $0.matches(unit) }
    }

    public func isActionableType(_ unit: String) -> Bool {
        guard let dot = unit.lastIndex(of: "."), dot != unit.startIndex else { return false }
        return actionableUnitTypes.contains(String(unit[unit.index(after: dot)...]))
    }

    /// Why automation may not `verb` the (validly named) `unit`, or nil when it may.
    public func refusal(_ verb: Verb, _ unit: String) -> String? {
        if !isActionableType(unit) {
            let type = unit.split(separator: ".").last.map(String.init) ?? "unit"
            return "\(unit) is a \(type): automation acts on \(actionableUnitTypes.map { "\($0)s" }.joined(separator: ", ")) only, "
                + "never on targets, sockets, slices, scopes, mounts, swaps, devices, paths, automounts or timers"
        }
        if let pattern = protection(of: unit) {
            let match = pattern.text == unit ? "" : " (matches \(pattern.text))"
            return "\(unit) is protected\(match): automation never starts, stops, restarts, reloads or resets it (\(verb.gerund) refused)"
        }
        return nil
    }

    /// The polkit rule that allows the daemon's user exactly what this policy allows: the model units' restarts,
    /// and — when `executor` is true (every autonomy level but observe) — the unit verbs on services that are not
    /// protected. Nothing else. The logic is `Policy/polkit-rule.js`, shared with the NixOS module.
    public func polkitRule(user: String, executor: Bool) -> String {
        struct Data: Encodable {
            let user: String
            let executor: Bool
            let verbs: [String]
            let actionableUnitTypes: [String]
            let modelUnits: [String]
            let protectedUnits: [String]
        }
        let data = Data(user: user, executor: executor, verbs: Verb.allCases.map(\.rawValue), actionableUnitTypes: actionableUnitTypes,
                        modelUnits: modelUnits, protectedUnits: protectedUnits.map(\.text))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings and booleans always encode.
        let literal = String(decoding: try! encoder.encode(data), as: UTF8.self)
        return String(decoding: PackageResources.polkit_rule_js, as: UTF8.self).replacingOccurrences(of: "@POLICY@", with: literal)
    }
}

/// A unit name, or a pattern in which `*` stands for any run of characters (`sshd@*.service`, `systemd-*.service`).
public struct UnitPattern: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    private let parts: [Substring]

    /// Nil unless `text` is a valid unit name once each `*` is read as a letter (see ``UnitName/isValidPattern(_:)``).
    public init?(_ text: String) {
        guard UnitName.isValidPattern(text) else { return nil }
        self.text = text
        parts = text.split(separator: "*", omittingEmptySubsequences: false)
    }

    public var description: String { text }

    public func matches(_ name: String) -> Bool {
        guard parts.count > 1 else { return name == text }
        let first = parts[0], last = parts[parts.count - 1]
        guard name.utf8.count >= first.utf8.count + last.utf8.count, name.hasPrefix(first), name.hasSuffix(last) else { return false }
        var rest = name.dropFirst(first.count).dropLast(last.count)
        for part in parts.dropFirst().dropLast() {
            guard let found = rest.range(of: part) else { return false }
            rest = rest[found.upperBound...]
        }
        return true
    }

    public static func == (a: UnitPattern, b: UnitPattern) -> Bool { a.text == b.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}
