@testable import Chat
import Foundation
import Store
import SysadminConfiguration
import Testing

@Suite struct ActionReportTests {
    /// Records as the ledger keeps them, in a real SQLite file.
    private func record(_ state: ProposalState, reason: String? = nil) throws -> ProposalRecord {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(path: directory + "/store.sqlite")
        return try store.insert(NewProposal(source: "chat", type: "restart_unit", parameters: ["unit": "nginx.service"], rationale: "asked",
                                            action: "RestartUnit nginx.service", risk: "medium", expectedEffect: "", rollback: ""),
                                state: state, reason: reason, actor: "policy", expiresAt: nil, at: Date())
    }

    @Test func aQueuedProposalIsNamedWithItsIdAndHowToDecide() throws {
        let queued = try record(.queued)
        let line = ActionReport.line(queued, level: .suggest)
        #expect(line.hasPrefix("#\(queued.id) restart_unit unit=nginx.service: queued for approval (risk medium); nothing has run yet."))
        #expect(line.contains("ai-sysadmin approvals approve \(queued.id)"))
    }

    @Test func atObserveTheReportSaysNothingWasQueued() throws {
        let recorded = try record(.recorded, reason: "autonomy level observe records proposals only")
        let text = try #require(ActionReport.text([recorded], level: .observe, answer: "I restarted it."))
        #expect(text.contains("recorded only; nothing was queued or run, because the autonomy level is observe"))
        #expect(!text.contains("approve"))
    }

    @Test func rejectionsCarryTheValidatorsReasonCleaned() throws {
        let rejected = try record(.rejected, reason: "unit name 'x\u{1B}[31m' is not valid")
        let line = ActionReport.line(rejected, level: .autoFull)
        #expect(line.contains("rejected: unit name 'x [31m' is not valid; nothing was run."))
    }

    @Test func aClaimWithoutAProposalIsCorrected() {
        #expect(ActionReport.text([], level: .autoFull, answer: "Done: I have restarted nginx.service for you.")?.contains("nothing on this host was changed") == true)
        #expect(ActionReport.text([], level: .autoFull, answer: "nginx.service restarted three times last night after OOM kills.") == nil)
        #expect(ActionReport.text([nil], level: .suggest, answer: "")?.contains("could not be recorded") == true)
    }
}
