import Foundation
import GRDB
import Testing
@testable import Store

@Suite struct ActionLedgerTests {
    /// Each change comes from the states it names and no other, and ends where it says.
    @Test func everyTransitionHasOneSourceAndOneTarget() {
        #expect(ProposalTransition.approve.from == [.queued] && ProposalTransition.approve.to == .approved)
        #expect(ProposalTransition.blockAtApproval.from == [.queued] && ProposalTransition.blockBeforeRunning.from == [.approved])
        #expect(ProposalTransition.start.from == [.approved] && ProposalTransition.interrupt.from == [.executing])
        #expect(ProposalTransition.finish(succeeded: false).to == .failed && ProposalTransition.interrupt.to == .failed)
        // Nothing leaves a final state.
        let all: [ProposalTransition] = [.approve, .reject, .blockAtApproval, .blockBeforeRunning, .expire, .start,
                                         .finish(succeeded: true), .finish(succeeded: false), .interrupt]
        #expect(all.allSatisfy { $0.from.allSatisfy { !$0.isFinal } && $0.to != .queued })
    }

    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)/ai-sysadmin.sqlite").path
    }

    private func proposal(_ unit: String = "nginx.service") -> NewProposal {
        NewProposal(source: "review 1", type: "restart_unit", parameters: ["unit": unit], rationale: "it keeps failing",
                    action: "dbus RestartUnit", risk: "medium", expectedEffect: "\(unit) is active again", rollback: "none")
    }

    @Test func aProposalsLifeIsInTheAuditTrailStepByStep() throws {
        let store = try SQLiteStore(path: temporaryPath())
        let queued = try store.insert(proposal(), state: .queued, reason: nil, actor: "policy", expiresAt: now.addingTimeInterval(3600), at: now)
        #expect(queued.state == .queued && queued.unit == "nginx.service" && queued.decidedBy == nil)
        #expect(try store.apply(.approve, to: queued.id, actor: "operator:alice", reason: "looks right", detail: nil, result: nil, at: now))
        #expect(try !store.apply(.finish(succeeded: true), to: queued.id, actor: "executor", reason: nil, detail: nil, result: nil, at: now),
                "an approved proposal finished without starting")
        #expect(try store.apply(.start, to: queued.id, actor: "executor", reason: nil, detail: "dbus RestartUnit", result: nil, at: now))
        #expect(try store.apply(.finish(succeeded: true), to: queued.id, actor: "executor", reason: "done", detail: nil,
                                result: #"{"succeeded":true}"#, at: now))
        #expect(try !store.apply(.reject, to: queued.id, actor: "operator:bob", reason: "late", detail: nil, result: nil, at: now),
                "a decided proposal was decided again")

        let final = try #require(try store.proposal(queued.id))
        #expect(final.state == .succeeded && final.decidedBy == "executor" && final.result == #"{"succeeded":true}"#)
        let trail = try store.audit(after: 0, since: nil, unit: nil, limit: 100)
        #expect(trail.map(\.event) == ["proposed", "queued", "approved", "executing", "succeeded"])
        #expect(trail.map(\.actor) == ["review 1", "policy", "operator:alice", "executor", "executor"])
        #expect(trail.allSatisfy { $0.unit == "nginx.service" })
        #expect(try store.audit(after: 0, since: nil, unit: "other.service", limit: 100).isEmpty)
        #expect(try store.executions(since: now.addingTimeInterval(-1)).map(\.type) == ["restart_unit"])
    }

    /// Two operators (two processes, two connections) deciding one proposal at once: exactly one wins.
    @Test func concurrentApproveAndRejectOfOneProposalHaveExactlyOneWinner() async throws {
        let path = temporaryPath()
        let first = try SQLiteStore(path: path)
        for round in 0..<20 {
            let id = try first.insert(proposal("app\(round).service"), state: .queued, reason: nil, actor: "policy", expiresAt: nil, at: now).id
            let deciders = try (0..<8).map { _ in try SQLiteStore(path: path) }
            let wins = await withTaskGroup(of: Bool.self) { group in
                for (index, store) in deciders.enumerated() {
                    group.addTask {
                        let decision: ProposalTransition = index.isMultiple(of: 2) ? .approve : .reject
                        return (try? store.apply(decision, to: id, actor: "operator:\(index)", reason: "r", detail: nil, result: nil,
                                                 at: Date())) ?? false
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1, "round \(round): \(wins) deciders won")
            let decisions = try first.audit(after: 0, since: nil, unit: "app\(round).service", limit: 100)
                .filter { ["approved", "rejected"].contains($0.event) }
            #expect(decisions.count == 1)
        }
    }

    @Test func theAuditTableIsAppendOnlyInTheDatabaseItself() throws {
        let store = try SQLiteStore(path: temporaryPath())
        _ = try store.insert(proposal(), state: .recorded, reason: "observe", actor: "policy", expiresAt: nil, at: now)
        #expect(throws: DatabaseError.self) {
            try store.database.write { try $0.execute(sql: "UPDATE audit SET actor = 'nobody'") }
        }
        #expect(throws: DatabaseError.self) {
            try store.database.write { try $0.execute(sql: "DELETE FROM audit") }
        }
        #expect(try store.audit(after: 0, since: nil, unit: nil, limit: 10).map(\.actor) == ["review 1", "policy"])
    }

    @Test func queuedProposalsPastTheirTimeAreFoundForExpiry() throws {
        let store = try SQLiteStore(path: temporaryPath())
        let soon = try store.insert(proposal("a.service"), state: .queued, reason: nil, actor: "policy", expiresAt: now.addingTimeInterval(60), at: now)
        _ = try store.insert(proposal("b.service"), state: .queued, reason: nil, actor: "policy", expiresAt: now.addingTimeInterval(7200), at: now)
        #expect(try store.expiredQueue(at: now).isEmpty)
        #expect(try store.expiredQueue(at: now.addingTimeInterval(61)).map(\.id) == [soon.id])
    }
}
