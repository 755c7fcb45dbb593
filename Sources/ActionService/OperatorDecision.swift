import Autonomy
import Foundation
import Store
import SysadminConfiguration

/// A person's decision on a queued proposal, the same from the command line and from the console: an approval is
/// validated again first, against the host as it is now (the unit may be protected since, the pid gone), and the
/// decision is one conditional ledger change, so of two people deciding at once one wins and the other is told.
/// The daemon runs what was approved.
public enum OperatorDecision: Sendable, Equatable {
    /// With what the person added, if anything (kept in the audit log).
    case approve(note: String?)
    case reject(reason: String)

    public enum Outcome: Sendable, Equatable {
        case approved
        case rejected
        /// Validation refused the action now; the proposal is blocked with this reason.
        case noLongerValid(String)
        /// The proposal does not exist.
        case missing
        /// Someone or something decided first: the proposal is in this state, decided by this actor.
        case alreadyDecided(ProposalState, by: String?)
    }

    /// The longest reason kept in the audit log; a person's words are stripped of control characters like any other
    /// text that reaches a terminal (they may come from a browser).
    public static let reasonLimit = 500

    /// Applies the decision by `actor` to proposal `id`. Throws only when the ledger cannot be read or written.
    public func apply(to id: Int64, actor: String, ledger: any ActionLedger, validator: ActionValidator, at date: Date = Date()) throws -> Outcome {
        guard let record = try ledger.proposal(id) else { return .missing }
        guard record.state == .queued else { return .alreadyDecided(record.state, by: record.decidedBy) }
        let transition: ProposalTransition, reason: String
        switch self {
        case .approve(let note):
            if case .failure(let rejection) = validator.validate(ProposedAction(type: record.type, parameters: record.parameters)) {
                let why = "no longer valid at approval: \(rejection.reason)"
                if try ledger.apply(.blockAtApproval, to: id, actor: actor, reason: why, detail: nil, result: nil, at: date) {
                    return .noLongerValid(rejection.reason)
                }
                return try decidedMeanwhile(id, ledger)
            }
            (transition, reason) = (.approve, "approved by \(actor)" + (note.map { ": " + ActionValidator.printable($0, limit: Self.reasonLimit) } ?? ""))
        case .reject(let why):
            (transition, reason) = (.reject, ActionValidator.printable(why, limit: Self.reasonLimit))
        }
        guard try ledger.apply(transition, to: id, actor: actor, reason: reason, detail: nil, result: nil, at: date) else {
            return try decidedMeanwhile(id, ledger)
        }
        return transition == .approve ? .approved : .rejected
    }

    private func decidedMeanwhile(_ id: Int64, _ ledger: any ActionLedger) throws -> Outcome {
        guard let now = try ledger.proposal(id) else { return .missing }
        return .alreadyDecided(now.state, by: now.decidedBy)
    }
}

extension OperatorDecision.Outcome: CustomStringConvertible {
    public var description: String {
        switch self {
        case .approved: "approved"
        case .rejected: "rejected"
        case .noLongerValid(let reason): "no longer valid and not approved: \(reason)"
        case .missing: "no such proposal"
        case .alreadyDecided(let state, let actor): "already \(state.rawValue)\(actor.map { " (by \($0))" } ?? "")"
        }
    }
}
