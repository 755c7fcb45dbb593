import Foundation
import Monitoring
import Store
import SysadminConfiguration

/// What happened to the actions proposed during one reply, said by the system from the ledger — never by the
/// model. It ends every reply that proposed something, so whatever the model wrote, the operator reads the truth.
public enum ActionReport {
    /// One proposal's fate as a sentence; `nil` stands for a proposal the ledger could not keep.
    public static func line(_ record: ProposalRecord?, level: AutonomyLevel) -> String {
        guard let record else { return "A proposed action could not be recorded (the store failed); nothing was run." }
        let what = "#\(record.id) \(record.type)\(record.parameters.isEmpty ? "" : " " + record.parameters.keyValueText)"
        let why = record.reason.map { ": \(LogText.clean($0, limit: 300))" } ?? ""
        switch record.state {
        case .queued:
            return "\(what): queued for approval\(record.risk.map { " (risk \($0))" } ?? "")\(why); nothing has run yet. "
                + "Approve with `ai-sysadmin approvals approve \(record.id)` or reject with `ai-sysadmin approvals reject \(record.id)`."
        case .recorded:
            return "\(what): recorded only; nothing was queued or run, because the autonomy level is \(level.rawValue)."
        case .succeeded:
            return "\(what): executed and verified."
        case .failed:
            return "\(what): executed, but failed\(why)."
        case .approved, .executing:
            return "\(what): approved and still running; see `ai-sysadmin approvals show \(record.id)`."
        case .blocked:
            return "\(what): blocked\(why); nothing was run."
        case .rejected:
            return "\(what): rejected\(why); nothing was run."
        case .expired:
            return "\(what): expired without a decision; nothing was run."
        }
    }

    /// The paragraph that ends a reply: every proposal's fate, or — when the answer sounds as if something was
    /// changed but nothing was proposed — that nothing was.
    public static func text(_ records: [ProposalRecord?], level: AutonomyLevel, answer: String) -> String? {
        if !records.isEmpty {
            return "Actions (from the executor's ledger):\n" + records.map { "- " + line($0, level: level) }.joined(separator: "\n")
        }
        return claimsAnAction(answer) ? "Note: no action was proposed or run during this reply; nothing on this host was changed." : nil
    }

    /// Whether `answer` says, in the first person, that something was done to the host.
    static func claimsAnAction(_ answer: String) -> Bool {
        let text = answer.lowercased()
        let subjects = ["i ", "i've ", "i have ", "we ", "we've ", "we have ", "has been ", "have been ", "was ", "were ", "successfully "]
        let verbs = ["restarted", "stopped", "started", "reloaded", "killed", "rebuilt", "vacuumed", "cleaned", "reset", "fixed", "executed"]
        return subjects.contains { subject in verbs.contains { text.contains(subject + $0) } }
    }
}
