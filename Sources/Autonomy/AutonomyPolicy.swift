import Foundation
import ModelSupervisor

/// Where a validated action goes. Every proposal ends in one of these or in a rejection by the validator —
/// nothing is dropped without a recorded reason.
public enum Decision: Sendable, Equatable {
    case execute
    case awaitApproval
    case record(reason: String)
    case block(reason: String)
}

/// An action that ran, as the budgets count it.
public struct ExecutionRecord: Sendable, Equatable {
    public var time: Date
    public var type: String
    public var unit: String?

    public init(time: Date, type: String, unit: String?) {
        self.time = time
        self.type = type
        self.unit = unit
    }
}

/// The model proposes; this decides. Pure and deterministic: the level, the action's fixed risk class, and the
/// budgets (restarts per unit per hour, actions per hour) counted over what the ledger says ran in the last
/// hour — so a restart of the daemon does not refill them. A unit that keeps failing past its budget is
/// escalated to a person instead of being restarted in a loop.
public struct AutonomyPolicy: Sendable {
    public let level: AutonomyLevel
    public let restartsPerUnitPerHour: Int
    public let actionsPerHour: Int

    public init(level: AutonomyLevel, restartsPerUnitPerHour: Int = 3, actionsPerHour: Int = 20) {
        self.level = level
        self.restartsPerUnitPerHour = restartsPerUnitPerHour
        self.actionsPerHour = actionsPerHour
    }

    /// For a proposal from automation (a review, an analysis, a chat request).
    public func decide(_ action: Action, at now: Date, recent: [ExecutionRecord] = []) -> Decision {
        let mayRun: Bool = switch level {
        case .observe, .suggest: false
        case .autoSafe: action.risk == .low
        case .autoFull: action.risk <= .medium
        }
        if level == .observe {
            return .record(reason: "autonomy level observe: proposals are recorded, nothing executes")
        }
        guard mayRun else { return .awaitApproval }
        let lastHour = recent.filter { now.timeIntervalSince($0.time) < 3600 }
        if lastHour.count >= actionsPerHour {
            return .block(reason: "\(lastHour.count) actions ran in the last hour (budget \(actionsPerHour)): waiting for a person")
        }
        if case .restartUnit(let unit) = action {
            let restarts = lastHour.filter { $0.type == action.name && $0.unit == unit }.count
            if restarts >= restartsPerUnitPerHour {
                return .block(reason: "\(unit) was restarted \(restarts) times in the last hour and keeps failing: escalating instead of restarting again")
            }
        }
        return .execute
    }

    /// For a proposal a person approved: it runs unless the level is now observe. The budgets limit what
    /// automation does on its own, not what an operator decided.
    public func decideApproved(_ action: Action) -> Decision {
        level == .observe ? .block(reason: "autonomy level is now observe: nothing executes, not even approved actions") : .execute
    }
}
