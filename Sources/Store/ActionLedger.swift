import Foundation

/// Proposals and their audit trail. Every change of state is one conditional update plus its audit row in one
/// transaction, so two deciders racing for one proposal cannot both win, and no state change is ever without
/// its audit line.
public protocol ActionLedger: Sendable {
    /// Stores a proposal in `state` with its first audit lines (`proposed`, then the state's own).
    func insert(_ proposal: NewProposal, state: ProposalState, reason: String?, actor: String, expiresAt: Date?, at date: Date) throws -> ProposalRecord
    /// Applies `change` to `id`; false (and nothing written) when the proposal is in no state the change comes from.
    func apply(_ change: ProposalTransition, to id: Int64, actor: String, reason: String?, detail: String?, result: String?,
               at date: Date) throws -> Bool
    func proposal(_ id: Int64) throws -> ProposalRecord?
    func proposals(in states: Set<ProposalState>?, limit: Int) throws -> [ProposalRecord]
    /// Queued proposals whose time is up at `date`.
    func expiredQueue(at date: Date) throws -> [ProposalRecord]
    /// Audit lines, oldest first, with filters.
    func audit(after id: Int64, since: Date?, unit: String?, limit: Int) throws -> [AuditEntry]
    /// The newest `limit` audit lines, newest first.
    func latestAudit(limit: Int) throws -> [AuditEntry]
    /// What was executed since `date` (for the hourly budgets): type, parameters and when.
    func executions(since date: Date) throws -> [(time: Date, type: String, parameters: [String: String])]
}
