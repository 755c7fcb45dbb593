import Foundation
import Logging
import PostgresNIO

/// An operator's decision on one host's queued proposal, as the fleet's database keeps it: made by an operator's role,
/// applied by the owning host, which says how that went.
public struct FleetDecision: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable {
        case approve, reject
    }

    public var id: Int64
    public var host: String
    /// The host's own id of the proposal.
    public var proposalID: Int64
    /// The proposal as the operator saw it: the host takes the decision only for a local proposal that is still this.
    public var proposalType: String
    public var proposalParameters: [String: String]
    public var verdict: Verdict
    /// The approver's note, or the reason for a rejection.
    public var note: String?
    /// The operator's database role.
    public var operatorName: String
    public var decidedAt: Date
    /// When the host took it into its ledger, and what came of that (`approved`, `already expired`, `no longer valid …`).
    public var appliedAt: Date?
    public var outcome: String?

    /// Whether the host's ledger took the decision as made (its outcome is then the ledger's word for it: `approved`,
    /// `rejected`); otherwise the outcome says why not (`already expired`, `no longer valid …`).
    public var wasTaken: Bool { outcome == Self.taken(verdict) }

    /// What a host reports when its ledger took `verdict`.
    public static func taken(_ verdict: Verdict) -> String { verdict == .approve ? "approved" : "rejected" }

    /// How the owning host names the decider in its audit log: `operator:alice@fleet`.
    public var actor: String { "operator:\(operatorName)@fleet" }

    static func read(on connection: PostgresConnection, where condition: PostgresQuery, logger: Logger) async throws -> [FleetDecision] {
        var query: PostgresQuery = """
            SELECT id, host, proposal_local_id, proposal_type, proposal_parameters::text, verdict, note, operator, decided_at, applied_at, outcome
            FROM decision WHERE
            """
        query.sql += " " + condition.sql
        query.binds = condition.binds
        var decisions: [FleetDecision] = []
        let rows = try await connection.query(query, logger: logger)
        for try await (id, host, proposalID, type, parameters, verdict, note, operatorName, decidedAt, appliedAt, outcome)
            in rows.decode((Int64, String, Int64, String, String, String, String?, String, Date, Date?, String?).self) {
            // The table's check admits only these two.
            guard let verdict = Verdict(rawValue: verdict) else { continue }
            decisions.append(FleetDecision(
                id: id, host: host, proposalID: proposalID, proposalType: type,
                proposalParameters: (try? JSONDecoder().decode([String: String].self, from: Data(parameters.utf8))) ?? [:], verdict: verdict,
                note: note, operatorName: operatorName, decidedAt: decidedAt, appliedAt: appliedAt, outcome: outcome))
        }
        return decisions
    }
}
