import ActionService
import ArgumentParser
import Autonomy
import CommandSupport
import Fleet
import Foundation
import Monitoring
import Store
import SysadminConfiguration

/// `ai-sysadmin approvals`: what waits for a person, and the person's decision — on this host's store, or for any
/// host of a fleet in its database (`HOST/ID`, `--fleet`), where the owning host takes the decision and runs it.
struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "List, inspect, approve or reject proposed actions that wait for an operator.",
        subcommands: [List.self, Show.self, Approve.self, Reject.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Proposals waiting for approval (with --all: every recent proposal); with --fleet, every host's.")

        @OptionGroup var location: StoreOptions

        @OptionGroup var fleet: FleetScopeOptions

        @Flag(name: .long, help: "Every proposal, whatever its state, newest first.")
        var all = false

        @Option(name: .long, help: "At most this many.")
        var limit = 50

        @Flag(name: .long, help: "One JSON object per line.")
        var json = false

        func run() async throws {
            let program = "ai-sysadmin approvals list"
            guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
            if let scope = try fleet.scope(program) {
                try await list(scope.fleet, host: scope.host, program)
                return
            }
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

        private func list(_ fleet: FleetOperator, host: String?, _ program: String) async throws {
            let proposals = try await FleetScopeOptions.reading(program) { try await fleet.proposals(in: all ? nil : [.queued], host: host, limit: limit) }
            if json {
                for proposal in proposals { print(ProposalText.json(proposal)) }
                return
            }
            if proposals.isEmpty {
                print(all ? "no proposals in the fleet" : "nothing waits for approval in the fleet")
                return
            }
            for proposal in proposals { print(ProposalText.line(proposal.record, host: proposal.host)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One proposal in full, with its audit trail.")

        @OptionGroup var location: StoreOptions

        @OptionGroup var database: FleetDatabaseOptions

        @Argument(help: ArgumentHelp(ProposalReference.help, valueName: "id"))
        var proposal: ProposalReference

        @Flag(name: .long, help: "As one JSON object.")
        var json = false

        func run() async throws {
            let program = "ai-sysadmin approvals show"
            if let host = try proposal.fleetHost(given: database, program) {
                try await showFleet(host, program)
                return
            }
            let id = proposal.id
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

        private func showFleet(_ host: String, _ program: String) async throws {
            let fleet = try database.fleetOperator(program)
            let found = try await FleetScopeOptions.reading(program) { try await fleet.proposal(host: host, id: proposal.id) }
            guard let found else { throw CommandSupport.fail(program, ["no proposal \(proposal) in the fleet"]) }
            if json {
                print(ProposalText.json(found.proposal))
                return
            }
            print(ProposalText.details(found.proposal.record, host: host))
            if let decision = found.decision { print("fleet decision:  " + ProposalText.describe(decision)) }
            print("audit (as \(host) last published it):")
            for entry in found.trail { print("  " + AuditText.line(entry)) }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a queued proposal; the daemon validates it again and runs it.",
            discussion: """
                Waits for the outcome (--wait seconds) and prints it; exits 1 if the action failed or was blocked.
                HOST/ID approves a fleet host's proposal in the fleet's database: that host's daemon hears of it at once,
                validates it against its own policy, runs it and publishes the outcome.
                """)

        @OptionGroup var location: StoreOptions

        @OptionGroup var database: FleetDatabaseOptions

        @Argument(help: ArgumentHelp(ProposalReference.help, valueName: "id"))
        var proposal: ProposalReference

        @Option(name: .long, help: "Seconds to wait for the daemon to run it (0: do not wait).")
        var wait = 60.0

        @Option(name: .long, help: "A note kept with the approval in the audit log.")
        var note: String?

        func run() async throws {
            let program = "ai-sysadmin approvals approve"
            let note = note?.trimmingCharacters(in: .whitespacesAndNewlines)
            if let host = try proposal.fleetHost(given: database, program) {
                try await FleetDecisionText.decide(.approve, note: note?.isEmpty == false ? note : nil, on: proposal, host: host, wait: wait,
                                                   database: database, program: program)
                return
            }
            let id = proposal.id
            let configuration = try location.configuration(program)
            let store = try location.open(program, mustExist: true)
            let actor = Operator.name
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
                try await Task.sleep(for: .milliseconds(200))
            }
            print("not run yet after \(Int(wait)) s: the daemon runs approved proposals; is it running? (systemctl status, ai-sysadmin status)")
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a queued proposal, with the reason (HOST/ID: a fleet host's).")

        @OptionGroup var location: StoreOptions

        @OptionGroup var database: FleetDatabaseOptions

        @Argument(help: ArgumentHelp(ProposalReference.help, valueName: "id"))
        var proposal: ProposalReference

        @Option(name: .long, help: "Why (kept in the audit log).")
        var reason: String

        func run() async throws {
            let program = "ai-sysadmin approvals reject"
            let text = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw CommandSupport.fail(program, ["--reason must say why"]) }
            if let host = try proposal.fleetHost(given: database, program) {
                try await FleetDecisionText.decide(.reject, note: text, on: proposal, host: host, wait: 0, database: database, program: program)
                return
            }
            let id = proposal.id
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

    /// `host`: the fleet host it belongs to, shown as `HOST/ID`.
    static func line(_ record: ProposalRecord, host: String? = nil) -> String {
        let time = ISO8601DateFormatter().string(from: record.createdAt)
        let id = host.map { "\($0)/\(record.id)" } ?? String(record.id)
        let state = record.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
        let risk = (record.risk ?? "-").padding(toLength: 6, withPad: " ", startingAt: 0)
        return "\(id.padding(toLength: max(5, id.count), withPad: " ", startingAt: 0)) \(time)  \(state) \(risk) \(record.type) \(target(record))  (\(record.source))"
    }

    static func details(_ record: ProposalRecord, host: String? = nil) -> String {
        let formatter = ISO8601DateFormatter()
        var lines = [
            "proposal \(host.map { "\($0)/" } ?? "")\(record.id): \(record.type) \(target(record))",
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

    /// `approve by alice at 2026-12-01T10:00:00Z ("note"); applied by the host: approved`.
    static func describe(_ decision: FleetDecision) -> String {
        let formatter = ISO8601DateFormatter()
        var text = "\(decision.verdict.rawValue) by \(decision.operatorName) at \(formatter.string(from: decision.decidedAt))"
        if let note = decision.note { text += " (\"\(ActionValidator.printable(note, limit: OperatorDecision.reasonLimit))\")" }
        if let applied = decision.appliedAt {
            text += "; the host took it at \(formatter.string(from: applied)): \(ActionValidator.printable(decision.outcome ?? "", limit: 300))"
        } else {
            text += "; not yet taken by the host"
        }
        return text
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }
}

enum AuditText {
    static func line(_ entry: AuditEntry) -> String {
        "\(ISO8601DateFormatter().string(from: entry.time))  #\(entry.proposalID) \(entry.event.padding(toLength: 9, withPad: " ", startingAt: 0)) \(entry.actor)  \(entry.detail)"
    }
}

/// A decision on a fleet host's proposal: recorded in the fleet's database, then (with `wait`) what the host made of it.
enum FleetDecisionText {
    static func decide(_ verdict: FleetDecision.Verdict, note: String?, on reference: ProposalReference, host: String, wait: Double,
                       database: FleetDatabaseOptions, program: String) async throws {
        let fleet = try database.fleetOperator(program)
        let recording: FleetOperator.Recording
        do {
            recording = try await fleet.decide(verdict, note: note, host: host, proposalID: reference.id)
        } catch {
            throw CommandSupport.fail(program, [FleetOperator.describe(error)])
        }
        switch recording {
        case .recorded(let decision):
            print("proposal \(reference) \(verdict == .approve ? "approved" : "rejected") by \(decision.operatorName) in the fleet; \(host) takes it from there")
        case .missing:
            throw CommandSupport.fail(program, ["no proposal \(reference) in the fleet (ai-sysadmin approvals list --fleet shows what waits)"])
        case .notQueued(let state, let actor):
            throw CommandSupport.fail(program, ["proposal \(reference) is \(state.rawValue)\(actor.map { " (by \($0))" } ?? ""), not waiting for approval"])
        case .decidedBefore(let decision):
            throw CommandSupport.fail(program, ["proposal \(reference) was already decided: \(ProposalText.describe(decision))"])
        }
        guard wait > 0 else { return }
        let last: (proposal: FleetProposal?, decision: FleetDecision?)
        do {
            last = try await fleet.outcome(host: host, proposalID: reference.id, within: .milliseconds(Int64(wait * 1000)))
        } catch {
            throw CommandSupport.fail(program, ["the decision is recorded, but following it failed: \(FleetOperator.describe(error))"])
        }
        if let decision = last.decision, decision.appliedAt != nil, !decision.wasTaken {
            print("\(host) did not take it: \(ActionValidator.printable(decision.outcome ?? "", limit: 300))")
            throw ExitCode.failure
        }
        if let record = last.proposal?.record, record.state.isFinal {
            print("\(record.state.rawValue): \(record.reason ?? "")")
            if record.state != .succeeded { throw ExitCode.failure }
            return
        }
        if last.decision?.appliedAt == nil {
            print("\(host) has not taken the decision after \(Int(wait)) s: is its daemon running and reaching the fleet's database? (ai-sysadmin fleet status)")
        } else {
            print("\(host) approved it; not finished after \(Int(wait)) s (ai-sysadmin approvals show \(reference) follows it)")
        }
    }
}
