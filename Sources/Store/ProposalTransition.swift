/// Every change a proposal may go through after it is stored, and the one place that says from which states to which.
/// The ledger applies a change only while the proposal is in a state it may come from, in one transaction, so two
/// deciders racing for one proposal cannot both win.
public enum ProposalTransition: Sendable, Equatable {
    /// A person approves a queued proposal.
    case approve
    /// A person rejects a queued proposal.
    case reject
    /// Checked again when a person approves it, a queued proposal is no longer valid.
    case blockAtApproval
    /// Checked again before it runs, an approved proposal is no longer valid or no longer allowed to run.
    case blockBeforeRunning
    /// Nobody decided within the approval window.
    case expire
    /// The executor starts it.
    case start
    /// The executor finished it.
    case finish(succeeded: Bool)
    /// The daemon stopped while it ran: its effect is unknown.
    case interrupt

    public var from: Set<ProposalState> {
        switch self {
        case .approve, .reject, .blockAtApproval, .expire: [.queued]
        case .blockBeforeRunning, .start: [.approved]
        case .finish, .interrupt: [.executing]
        }
    }

    public var to: ProposalState {
        switch self {
        case .approve: .approved
        case .reject: .rejected
        case .blockAtApproval, .blockBeforeRunning: .blocked
        case .expire: .expired
        case .start: .executing
        case .finish(let succeeded): succeeded ? .succeeded : .failed
        case .interrupt: .failed
        }
    }
}
