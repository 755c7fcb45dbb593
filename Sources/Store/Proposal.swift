import Foundation

/// Where a proposal stands. Final fates: recorded, succeeded, failed, blocked, rejected, expired. Queued waits for
/// a person; approved and executing are the executor's.
public enum ProposalState: String, Sendable, Codable, CaseIterable {
    case recorded, queued, approved, executing, succeeded, failed, blocked, rejected, expired

    public var isFinal: Bool { ![.queued, .approved, .executing].contains(self) }
}

/// A proposal as the ledger keeps it, with its current state and the decision that put it there.
public struct ProposalRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var createdAt: Date
    /// Who proposed: `review 12`, `analysis 3`, `operator`, `chat`.
    public var source: String
    /// As proposed (after cleaning): the action type and its parameters.
    public var type: String
    public var parameters: [String: String]
    public var unit: String?
    public var rationale: String
    /// The validated action's exact steps, when it passed validation.
    public var action: String?
    /// Fixed in code by the action type; nil when validation rejected the proposal.
    public var risk: String?
    public var expectedEffect: String
    public var rollback: String
    public var state: ProposalState
    public var reason: String?
    public var decidedBy: String?
    public var decidedAt: Date?
    public var expiresAt: Date?
    /// The execution outcome as JSON, once run.
    public var result: String?

    public init(id: Int64, createdAt: Date, source: String, type: String, parameters: [String: String], unit: String?, rationale: String,
                action: String?, risk: String?, expectedEffect: String, rollback: String, state: ProposalState, reason: String?,
                decidedBy: String?, decidedAt: Date?, expiresAt: Date?, result: String?) {
        self.id = id
        self.createdAt = createdAt
        self.source = source
        self.type = type
        self.parameters = parameters
        self.unit = unit
        self.rationale = rationale
        self.action = action
        self.risk = risk
        self.expectedEffect = expectedEffect
        self.rollback = rollback
        self.state = state
        self.reason = reason
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.expiresAt = expiresAt
        self.result = result
    }
}

/// A new proposal, before it has an id.
public struct NewProposal: Sendable {
    public var source: String
    public var type: String
    public var parameters: [String: String]
    public var rationale: String
    public var action: String?
    public var risk: String?
    public var expectedEffect: String
    public var rollback: String

    public init(source: String, type: String, parameters: [String: String], rationale: String, action: String?, risk: String?,
                expectedEffect: String, rollback: String) {
        self.source = source
        self.type = type
        self.parameters = parameters
        self.rationale = rationale
        self.action = action
        self.risk = risk
        self.expectedEffect = expectedEffect
        self.rollback = rollback
    }
}
