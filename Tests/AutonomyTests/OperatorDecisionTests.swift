import ActionService
import Autonomy
import Foundation
import Store
import Testing

/// A person's decision, the same from the command line and the console, against a real SQLite ledger.
@Suite struct OperatorDecisionTests {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func queued(_ unit: String = "nginx.service") throws -> (SQLiteStore, ProposalRecord) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("decision-\(UUID().uuidString)/ai-sysadmin.sqlite").path
        let store = try SQLiteStore(path: path)
        let record = try store.insert(
            NewProposal(source: "review 1", type: "restart_unit", parameters: ["unit": unit], rationale: "it keeps failing",
                        action: "dbus RestartUnit", risk: "medium", expectedEffect: "\(unit) is active again", rollback: "none"),
            state: .queued, reason: nil, actor: "policy", expiresAt: now.addingTimeInterval(3600), at: now)
        return (store, record)
    }

    @Test func anApprovalKeepsThePersonsNoteAndASecondDecisionIsToldWhoWon() throws {
        let (store, record) = try queued()
        let validator = ActionValidator()
        #expect(try OperatorDecision.approve(note: "after the deploy").apply(to: record.id, actor: "operator:console", ledger: store,
                                                                            validator: validator, at: now) == .approved)
        let trail = try store.audit(after: 0, since: nil, unit: nil, limit: 10)
        #expect(trail.contains { $0.event == "approved" && $0.actor == "operator:console" && $0.detail.contains("after the deploy") })
        // The other person, a moment later: nothing is written, and they learn who decided.
        #expect(try OperatorDecision.reject(reason: "not now").apply(to: record.id, actor: "operator:alice", ledger: store,
                                                                    validator: validator, at: now)
                == .alreadyDecided(.approved, by: "operator:console"))
        #expect(try store.proposal(record.id)?.state == .approved)
        #expect(try store.audit(after: 0, since: nil, unit: nil, limit: 10).count == trail.count)
    }

    @Test func anApprovalOfWhatIsProtectedNowBlocksIt() throws {
        let (store, record) = try queued("payments.service")
        let outcome = try OperatorDecision.approve(note: nil).apply(to: record.id, actor: "operator:alice", ledger: store,
                                                                  validator: ActionValidator(extraProtected: ["payments.service"]), at: now)
        guard case .noLongerValid(let reason) = outcome else {
            Issue.record("expected noLongerValid, got \(outcome)")
            return
        }
        #expect(reason.contains("payments.service"))
        #expect(try store.proposal(record.id)?.state == .blocked)
    }

    @Test func aRejectionKeepsItsReasonAndAMissingProposalIsSaidSo() throws {
        let (store, record) = try queued()
        #expect(try OperatorDecision.reject(reason: String(repeating: "x", count: 900)).apply(
            to: record.id, actor: "operator:console", ledger: store, validator: ActionValidator(), at: now) == .rejected)
        let rejected = try #require(try store.proposal(record.id))
        #expect(rejected.state == .rejected && rejected.reason?.count == OperatorDecision.reasonLimit)
        #expect(try OperatorDecision.approve(note: nil).apply(to: 999, actor: "operator:console", ledger: store,
                                                            validator: ActionValidator(), at: now) == .missing)
    }
}
