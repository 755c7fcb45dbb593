import ActionService
import ArgumentParser
import Autonomy
import CommandSupport
import Foundation
import Monitoring
import Store
import SysadminConfiguration

/// `ai-sysadmin approvals`: what waits for a person, and the person's decision.
struct ApprovalsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "List, inspect, approve or reject proposed actions that wait for an operator.",
        subcommands: [List.self, Show.self, Approve.self, Reject.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Proposals waiting for approval (with --all: every recent proposal).")

        @OptionGroup var location: StoreOptions

        @Flag(name: .long, help: "Every proposal, whatever its state, newest first.")
        var all = false

        @Option(name: .long, help: "At most this many.")
        var limit = 50

        @Flag(name: .long, help: "One JSON object per line.")
        var json = false

        func run() throws {
            let program = "ai-sysadmin approvals list"
            guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
            let store = try location.open(program, mustExist: true)
            let records: [ProposalRecord]
            do {
                records = try store.proposals(in: all ? nil : [.queued], limit: limit)
            } catch {
                throw CommandSupport.fail(program, ["\(error)"])
            }
            if json {
                for record in records { print(ProposalText.json(record)) }
                return
            }
            if records.isEmpty {
                print(all ? "no proposals" : "nothing waits for approval")
                return
            }
            for record in records { print(ProposalText.line(record)) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One proposal in full, with its audit trail.")

        @OptionGroup var location: StoreOptions

        @Argument(help: "The proposal's id.")
        var id: Int64

        @Flag(name: .long, help: "As one JSON object.")
        var json = false

        func run() throws {
            let program = "ai-sysadmin approvals show"
            let store = try location.open(program, mustExist: true)
            guard let record = try? store.proposal(id) else { throw CommandSupport.fail(program, ["no proposal \(id)"]) }
            if json {
                print(ProposalText.json(record))
                return
            }
            print(ProposalText.details(record))
            let trail = (try? store.audit(after: 0, since: nil, unit: nil, limit: 100_000).filter { $0.proposalID == id }) ?? []
            print("audit:")
            for entry in trail { print("  " + AuditText.line(entry)) }
        }
    }

    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a queued proposal; the daemon validates it again and runs it.",
            discussion: "Waits for the outcome (--wait seconds) and prints it; exits 1 if the action failed or was blocked.")

        @OptionGroup var location: StoreOptions

        @Argument(help: "The proposal's id.")
        var id: Int64

        @Option(name: .long, help: "Seconds to wait for the daemon to run it (0: do not wait).")
        var wait = 60.0

        @Option(name: .long, help: "A note kept with the approval in the audit log.")
        var note: String?

        func run() throws {
            let program = "ai-sysadmin approvals approve"
            let configuration = try location.configuration(program)
            let store = try location.open(program, mustExist: true)
            let actor = Operator.name
            let note = note?.trimmingCharacters(in: .whitespacesAndNewlines)
            try ProposalText.decide(.approve(note: note?.isEmpty == false ? note : nil), on: id, actor: actor,
                                    validator: ActionCoordinator.validator(for: configuration), in: store, program: program)
            print("proposal \(id) approved by \(actor)")
            guard wait > 0 else { return }
            let deadline = Date().addingTimeInterval(wait)
            while Date() < deadline {
                if let current = try? store.proposal(id), current.state.isFinal {
                    print("\(current.state.rawValue): \(current.reason ?? "")")
                    if current.state != .succeeded { throw ExitCode.failure }
                    return
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
            print("not run yet after \(Int(wait)) s: the daemon runs approved proposals; is it running? (systemctl status, ai-sysadmin status)")
        }
    }

    struct Reject: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a queued proposal, with the reason.")

        @OptionGroup var location: StoreOptions

        @Argument(help: "The proposal's id.")
        var id: Int64

        @Option(name: .long, help: "Why (kept in the audit log).")
        var reason: String

        func run() throws {
            let program = "ai-sysadmin approvals reject"
            let text = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw CommandSupport.fail(program, ["--reason must say why"]) }
            let store = try location.open(program, mustExist: true)
            let actor = Operator.name
            // A rejection is not validated: the default validator is never asked, so no configuration is needed.
            try ProposalText.decide(.reject(reason: text), on: id, actor: actor, validator: ActionValidator(), in: store, program: program)
            print("proposal \(id) rejected by \(actor)")
        }
    }
}

/// Who is deciding, as the audit log names them: `operator:alice` (the user behind sudo when there is one).
enum Operator {
    static var name: String {
        let environment = ProcessInfo.processInfo.environment
        if let user = environment["SUDO_USER"], !user.isEmpty { return "operator:\(user)" }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return "operator:\(String(cString: name))" }
        return "operator:uid \(getuid())"
    }
}

/// How proposals are shown. Every string in a record was bounded and stripped of control characters when stored.
enum ProposalText {
    /// A person's decision on a queued proposal; says why when it did not take.
    static func decide(_ decision: OperatorDecision, on id: Int64, actor: String, validator: ActionValidator, in store: SQLiteStore,
                       program: String) throws {
        let outcome: OperatorDecision.Outcome
        do {
            outcome = try decision.apply(to: id, actor: actor, ledger: store, validator: validator)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        switch outcome {
        case .approved, .rejected: return
        case .missing: throw CommandSupport.fail(program, ["no proposal \(id) (ai-sysadmin approvals list shows what waits)"])
        case .noLongerValid(let reason): throw CommandSupport.fail(program, ["proposal \(id) is no longer valid and was not approved: \(reason)"])
        case .alreadyDecided(let state, let actor):
            throw CommandSupport.fail(program, ["proposal \(id) is \(state.rawValue)\(actor.map { " (by \($0))" } ?? ""), not waiting for approval"])
        }
    }

    /// `approved (by operator:alice)`.
    static func state(_ record: ProposalRecord) -> String {
        record.state.rawValue + (record.decidedBy.map { " (by \($0))" } ?? "")
    }

    static func target(_ record: ProposalRecord) -> String {
        record.parameters.keyValueText
    }

    static func line(_ record: ProposalRecord) -> String {
        let time = ISO8601DateFormatter().string(from: record.createdAt)
        let state = record.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
        let risk = (record.risk ?? "-").padding(toLength: 6, withPad: " ", startingAt: 0)
        return "\(String(record.id).padding(toLength: 5, withPad: " ", startingAt: 0)) \(time)  \(state) \(risk) \(record.type) \(target(record))  (\(record.source))"
    }

    static func details(_ record: ProposalRecord) -> String {
        let formatter = ISO8601DateFormatter()
        var lines = [
            "proposal \(record.id): \(record.type) \(target(record))",
            "state:           \(state(record))",
            "risk:            \(record.risk ?? "none: not a valid action")",
            "proposed by:     \(record.source) at \(formatter.string(from: record.createdAt))",
            "rationale:       \(record.rationale)",
        ]
        if let action = record.action { lines.append("will run:        \(action)") }
        if !record.expectedEffect.isEmpty { lines.append("expected effect: \(record.expectedEffect)") }
        if !record.rollback.isEmpty { lines.append("rollback:        \(record.rollback)") }
        if let reason = record.reason { lines.append("reason:          \(reason)") }
        if let expires = record.expiresAt, record.state == .queued { lines.append("expires:         \(formatter.string(from: expires))") }
        if let result = record.result { lines.append("result:          \(result)") }
        return lines.joined(separator: "\n")
    }

    static func json(_ record: ProposalRecord) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(record)) ?? Data(), as: UTF8.self)
    }
}

enum AuditText {
    static func line(_ entry: AuditEntry) -> String {
        "\(ISO8601DateFormatter().string(from: entry.time))  #\(entry.proposalID) \(entry.event.padding(toLength: 9, withPad: " ", startingAt: 0)) \(entry.actor)  \(entry.detail)"
    }
}
