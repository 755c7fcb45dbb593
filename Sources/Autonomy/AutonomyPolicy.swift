import Foundation

/// How far the system may act on its own (config `autonomyLevel`).
public enum AutonomyLevel: String, Sendable, CaseIterable {
    /// Nothing executes; proposals are recorded.
    case observe
    /// Every action waits for an operator's approval.
    case suggest
    /// Low-risk actions execute; the rest wait for approval.
    case autoSafe = "auto-safe"
    /// Low- and medium-risk actions execute; high-risk ones wait for approval.
    case autoFull = "auto-full"
}

/// Where a validated action goes. Every proposal ends in one of these or in a rejection by the validator —
/// nothing is dropped without a recorded reason.
public enum Decision: Sendable, Equatable {
    case execute
    case awaitApproval
    case record(reason: String)
    case block(reason: String)
}

/// The model proposes; this decides. Pure and deterministic: the level, the action's fixed risk class, and the
/// budgets (restarts per unit per hour, actions per hour) — a unit that keeps failing past its budget is
/// escalated to a person instead of being restarted in a loop.
public struct AutonomyPolicy: Sendable {
    public let level: AutonomyLevel
    public let restartsPerUnitPerHour: Int
    public let actionsPerHour: Int
    private var executed: [(time: Date, action: Action)] = []

    public init(level: AutonomyLevel, restartsPerUnitPerHour: Int = 3, actionsPerHour: Int = 20) {
        self.level = level
        self.restartsPerUnitPerHour = restartsPerUnitPerHour
        self.actionsPerHour = actionsPerHour
    }

    public func decide(_ action: Action, at now: Date) -> Decision {
        // Read-only investigation changes nothing: it runs at every level but observe.
        let mayRun: Bool = switch level {
        case .observe: false
        case .suggest: false
        case .autoSafe: action.risk == .low
        case .autoFull: action.risk <= .medium
        }
        if level == .observe {
            return .record(reason: "autonomy level observe: proposals are recorded, nothing executes")
        }
        guard mayRun else { return .awaitApproval }
        let recent = executed.filter { now.timeIntervalSince($0.time) < 3600 }
        if recent.count >= actionsPerHour {
            return .block(reason: "\(actionsPerHour) actions in the last hour: the hourly budget is spent; waiting for a person")
        }
        if case .restartUnit(let unit) = action {
            let restarts = recent.filter { $0.action == .restartUnit(unit) }.count
            if restarts >= restartsPerUnitPerHour {
                return .block(reason: "\(unit) was restarted \(restarts) times in the last hour and keeps failing: escalating instead of restarting again")
            }
        }
        return .execute
    }

    /// Counts an executed action against the budgets.
    public mutating func recordExecution(_ action: Action, at time: Date) {
        executed.append((time, action))
        executed.removeAll { time.timeIntervalSince($0.time) >= 3600 }
    }
}
