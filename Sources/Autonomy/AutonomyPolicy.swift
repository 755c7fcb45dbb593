import Foundation
import SysadminConfiguration

/// Where a validated action goes. Every proposal ends in one of these or in a rejection by the validator —
/// nothing is dropped without a recorded reason.
public enum Decision: Sendable, Equatable {
    case execute
    /// Queued for a person; the reason says why when it is more than the autonomy level (a raised risk, a
    /// requester who may only propose).
    case awaitApproval(reason: String?)
    case record(reason: String)
    case block(reason: String)
}

/// Who caused a proposal, which decides whether it may ever run without a person's approval.
public enum Requester: Sendable, Equatable {
    /// The system's own layers (a review, an analysis): as far as the autonomy level allows.
    case automation
    /// An operator who authenticated as one: a gateway key from `api.operatorKeyFile`, or the agent socket, which
    /// only root and the daemon's group can open. As far as the autonomy level allows.
    case authenticatedOperator
    /// Anyone else who reached the chat (the gateway without an operator key: any local user when it listens on
    /// loopback without keys). May propose; what it proposes waits for a person at every level.
    case unauthenticatedClient
    /// An agent connected over MCP (an editor, a desktop assistant, another system), whoever runs it. May propose;
    /// what it proposes waits for a person at every level: MCP never approves.
    case delegatedAgent
}

/// How risky an action is here: the risk fixed in code for its type, raised — never lowered — by what it would do
/// on this host (a vacuum below the journal floor, a unit whose restart takes a target with it).
public struct RiskAssessment: Sendable, Equatable {
    public var risk: Action.Risk
    /// Why the risk is above the type's own, for the person who decides.
    public var reasons: [String]

    public init(_ action: Action) {
        risk = action.risk
        reasons = []
    }

    public mutating func raise(to risk: Action.Risk, because reason: String) {
        self.risk = max(self.risk, risk)
        reasons.append(reason)
    }
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

/// The model proposes; this decides. Pure and deterministic: the level, the action's risk (fixed in code by its
/// type, raised by its effect), who asked, and the budgets (restarts per unit per hour, actions per hour) counted
/// over what the ledger says ran in the last hour — so a restart of the daemon does not refill them. A unit that
/// keeps failing past its budget is escalated to a person instead of being restarted in a loop.
public struct AutonomyPolicy: Sendable {
    public let level: AutonomyLevel
    public let restartsPerUnitPerHour: Int
    public let actionsPerHour: Int
    /// A journal vacuum that keeps less than this is high risk.
    public let journalFloorDays: Int
    public let journalFloorMegabytes: Int

    public init(level: AutonomyLevel, restartsPerUnitPerHour: Int = 3, actionsPerHour: Int = 20, journalFloorDays: Int = 7,
                journalFloorMegabytes: Int = 500) {
        self.level = level
        self.restartsPerUnitPerHour = restartsPerUnitPerHour
        self.actionsPerHour = actionsPerHour
        self.journalFloorDays = journalFloorDays
        self.journalFloorMegabytes = journalFloorMegabytes
    }

    /// The action's risk on this host: its type's, raised by what it would delete or take with it. `impact` is what
    /// systemd's manager said about a unit action's unit (see ``UnitImpact``); `impactUnknown` why it could not say.
    public func assess(_ action: Action, impact: UnitImpact.Verdict? = nil, impactUnknown: String? = nil) -> RiskAssessment {
        var assessment = RiskAssessment(action)
        if case .vacuumJournal(let megabytes, let days) = action {
            if let days, days < journalFloorDays {
                assessment.raise(to: .high, because: "it keeps only \(days) days of journal, below the floor of \(journalFloorDays) (autonomy.journalFloorDays)")
            }
            if let megabytes, megabytes < journalFloorMegabytes {
                assessment.raise(to: .high, because: "it keeps only \(megabytes) MB of journal, below the floor of \(journalFloorMegabytes) MB (autonomy.journalFloorMegabytes)")
            }
        }
        if case .raised(let reasons)? = impact {
            for reason in reasons { assessment.raise(to: .high, because: reason) }
        }
        if let impactUnknown {
            assessment.raise(to: .high, because: "systemd could not say what else it would touch (\(impactUnknown))")
        }
        return assessment
    }

    /// For a proposal from automation or chat. `risk` defaults to the action type's own.
    public func decide(_ action: Action, risk: RiskAssessment? = nil, requester: Requester = .automation, at now: Date,
                       recent: [ExecutionRecord] = []) -> Decision {
        let risk = risk ?? RiskAssessment(action)
        if level == .observe {
            return .record(reason: "autonomy level observe: proposals are recorded, nothing executes")
        }
        switch requester {
        case .automation, .authenticatedOperator: break
        case .unauthenticatedClient:
            return .awaitApproval(reason: "asked for by a chat client that is not authenticated as an operator: it waits for approval at every autonomy level")
        case .delegatedAgent:
            return .awaitApproval(reason: "proposed by an agent over MCP: it waits for an operator's approval at every autonomy level")
        }
        let mayRun: Bool = switch level {
        case .observe, .suggest: false
        case .autoSafe: risk.risk == .low
        case .autoFull: risk.risk <= .medium
        }
        guard mayRun else {
            return .awaitApproval(reason: risk.reasons.isEmpty ? nil : "risk raised to \(risk.risk.rawValue): " + risk.reasons.joined(separator: "; "))
        }
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
