import Foundation
import Logging
import Monitoring
import PostgresNIO
import Store
import SysadminConfiguration

/// The fleet as one of its operators sees and decides it (a member of `ais_operator`, which reads every host's rows
/// and records decisions): each call opens a connection of its own and closes it, as a command does.
///
/// Every row is a host's own word, and a host that is taken over can write anything into its rows: the text fields
/// it returns are bounded and stripped of control characters (``text(_:)``), as they go to an operator's terminal.
public struct FleetOperator: Sendable {
    /// One host as the fleet last heard of it.
    public struct Host: Sendable, Equatable, Codable {
        public var id: String
        public var heartbeatAt: Date
        /// Its last heartbeat: the daemon's status (model servers' states), autonomy level, version.
        public var heartbeat: JSONDocument
        public var pendingApprovals: Int
        public var escalationsLastDay: Int
    }

    /// A heartbeat as sent, kept whole for `--json` and read for the table.
    public struct JSONDocument: Sendable, Equatable, Codable {
        public var text: String

        public init(from decoder: any Decoder) throws { text = try decoder.singleValueContainer().decode(String.self) }
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(text)
        }
        init(_ text: String) { self.text = text }

        public var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }
    }

    /// What became of an operator's decision when it was recorded.
    public enum Recording: Sendable, Equatable {
        /// Recorded; the owning host applies it.
        case recorded(FleetDecision)
        /// The fleet has no such proposal.
        case missing
        /// The fleet sees the proposal in this state (decided by this actor): not waiting for approval.
        case notQueued(ProposalState, by: String?)
        /// Another operator decided first.
        case decidedBefore(FleetDecision)
    }

    let configuration: PostgresConnection.Configuration
    let logger: Logger

    public init(configuration: PostgreSQLConfiguration, logger: Logger) throws(ConfigurationError) {
        self.configuration = try FleetConnection.configuration(configuration, passwordKey: "--password-file")
        self.logger = logger
    }

    /// Every host that ever published, by id.
    public func hosts() async throws -> [Host] {
        try await withConnection { connection in
            let rows = try await connection.query("""
                SELECT host.id, host.heartbeat_at, host.heartbeat::text,
                       (SELECT count(*) FROM proposal WHERE proposal.host = host.id AND proposal.state = 'queued'),
                       (SELECT count(*) FROM event WHERE event.host = host.id AND event.escalate AND event.time > now() - interval '24 hours')
                FROM host ORDER BY host.id
                """, logger: logger)
            var hosts: [Host] = []
            for try await (id, heartbeatAt, heartbeat, pending, escalations) in rows.decode((String, Date, String, Int64, Int64).self) {
                hosts.append(Host(id: id, heartbeatAt: heartbeatAt, heartbeat: JSONDocument(heartbeat), pendingApprovals: Int(pending),
                                  escalationsLastDay: Int(escalations)))
            }
            return hosts
        }
    }

    /// One host's event as published.
    public struct Event: Sendable, Equatable, Codable {
        public var host: String
        /// The host's own id of the event.
        public var id: Int64
        public var time: Date
        public var severity: String
        public var category: String
        public var escalate: Bool
        public var summary: String
        /// What set the severity (`model`, `rule`, `signature:ID`, …).
        public var source: String
        public var message: String
        public var unit: String?
    }

    /// Events of every host (or of `host`) at or after `since`, oldest first, at most `limit` (the newest such).
    public func events(host: String?, since: Date?, limit: Int) async throws -> [Event] {
        try await withConnection { connection in
            let rows = try await connection.query("""
                SELECT * FROM (SELECT host, local_id, time, severity, category, escalate, summary, source, message, unit FROM event
                               WHERE (\(host)::text IS NULL OR host = \(host)::text) AND (\(since)::timestamptz IS NULL OR time >= \(since)::timestamptz)
                               ORDER BY time DESC, host, local_id DESC LIMIT \(limit)) AS newest
                ORDER BY time, host, local_id
                """, logger: logger)
            var events: [Event] = []
            for try await (host, id, time, severity, category, escalate, summary, source, message, unit)
                in rows.decode((String, Int64, Date, String, String, Bool, String, String, String, String?).self) {
                events.append(Event(host: host, id: id, time: time, severity: Self.text(severity, 16), category: Self.text(category, 16),
                                    escalate: escalate, summary: Self.text(summary), source: Self.text(source, 64), message: Self.text(message),
                                    unit: unit.map { Self.text($0, 256) }))
            }
            return events
        }
    }

    /// Audit lines of every host (or of `host`) at or after `since` (about proposals for `unit`, if given), oldest
    /// first, at most `limit` (the newest such); each with the unit of its proposal.
    public func audit(host: String?, since: Date?, unit: String?, limit: Int) async throws -> [(host: String, entry: AuditEntry)] {
        try await withConnection { connection in
            let rows = try await connection.query("""
                SELECT * FROM (SELECT audit.host, audit.local_id, audit.time, audit.proposal_local_id, audit.event, audit.actor, audit.detail, proposal.unit
                               FROM audit LEFT JOIN proposal ON proposal.host = audit.host AND proposal.local_id = audit.proposal_local_id
                               WHERE (\(host)::text IS NULL OR audit.host = \(host)::text)
                                 AND (\(since)::timestamptz IS NULL OR audit.time >= \(since)::timestamptz)
                                 AND (\(unit)::text IS NULL OR proposal.unit = \(unit)::text)
                               ORDER BY audit.time DESC, audit.host, audit.local_id DESC LIMIT \(limit)) AS newest
                ORDER BY time, host, local_id
                """, logger: logger)
            var lines: [(host: String, entry: AuditEntry)] = []
            for try await (host, id, time, proposal, event, actor, detail, unit)
                in rows.decode((String, Int64, Date, Int64, String, String, String, String?).self) {
                lines.append((host, AuditEntry(id: id, time: time, proposalID: proposal, event: Self.text(event, 32), actor: Self.text(actor, 256),
                                               detail: Self.text(detail), unit: unit.map { Self.text($0, 256) })))
            }
            return lines
        }
    }

    /// Reviews or analyses (`kind`) of every host (or of `host`), newest first, as the JSON
    /// documents the hosts published.
    public func conclusions(_ kind: ConclusionKind, host: String?, limit: Int) async throws -> [(host: String, id: Int64, time: Date, document: String)] {
        try await withConnection { connection in
            var query: PostgresQuery = """
                WHERE (\(host)::text IS NULL OR host = \(host)::text) ORDER BY time DESC, host, local_id DESC LIMIT \(limit)
                """
            query.sql = "SELECT host, local_id, time, document::text FROM \(kind.rawValue) " + query.sql
            var found: [(host: String, id: Int64, time: Date, document: String)] = []
            for try await (host, id, time, document) in try await connection.query(query, logger: logger).decode((String, Int64, Date, String).self) {
                found.append((host, id, time, document))
            }
            return found
        }
    }

    public enum ConclusionKind: String, Sendable { case review, analysis }

    /// A host's text as it may reach a terminal: control characters become spaces, at most `limit` characters.
    public static func text(_ text: String, _ limit: Int = 4000) -> String { LogText.clean(text, limit: limit) }

    /// Proposals of every host (or of `host`), newest first: those in `states`, or all with nil.
    public func proposals(in states: [ProposalState]?, host: String? = nil, limit: Int) async throws -> [FleetProposal] {
        let stateNames = states?.map(\.rawValue)
        return try await withConnection { connection in
            try await Self.proposals(on: connection, where: """
                (\(stateNames)::text[] IS NULL OR state = ANY(\(stateNames)::text[])) AND (\(host)::text IS NULL OR host = \(host)::text)
                ORDER BY created_at DESC, host, local_id DESC LIMIT \(limit)
                """, logger: logger)
        }
    }

    /// One proposal with its audit trail (oldest first) and the decision recorded on it, if any.
    public func proposal(host: String, id: Int64) async throws -> (proposal: FleetProposal, trail: [AuditEntry], decision: FleetDecision?)? {
        try await withConnection { connection in
            guard let proposal = try await Self.proposals(on: connection, where: "host = \(host) AND local_id = \(id)", logger: logger).first else {
                return nil
            }
            let rows = try await connection.query("""
                SELECT local_id, time, event, actor, detail FROM audit WHERE host = \(host) AND proposal_local_id = \(id) ORDER BY local_id
                """, logger: logger)
            var trail: [AuditEntry] = []
            for try await (line, time, event, actor, detail) in rows.decode((Int64, Date, String, String, String).self) {
                trail.append(AuditEntry(id: line, time: time, proposalID: id, event: Self.text(event, 32), actor: Self.text(actor, 256),
                                        detail: Self.text(detail), unit: proposal.record.unit))
            }
            return (proposal, trail, try await Self.decision(on: connection, host: host, proposalID: id, logger: logger))
        }
    }

    /// Records this operator's decision on `host`'s proposal `id`. Of two operators deciding at once, one records it
    /// and the other learns who did.
    public func decide(_ verdict: FleetDecision.Verdict, note: String?, host: String, proposalID id: Int64) async throws -> Recording {
        try await withConnection { connection in
            guard let proposal = try await Self.proposals(on: connection, where: "host = \(host) AND local_id = \(id)", logger: logger).first else {
                return .missing
            }
            if let earlier = try await Self.decision(on: connection, host: host, proposalID: id, logger: logger) { return .decidedBefore(earlier) }
            guard proposal.record.state == .queued else { return .notQueued(proposal.record.state, by: proposal.record.decidedBy) }
            do {
                // The policy checks again, in the statement, that the proposal is queued: it may have changed since.
                let rows = try await connection.query("""
                    INSERT INTO decision (host, proposal_local_id, proposal_type, proposal_parameters, verdict, note)
                    SELECT host, local_id, type, parameters, \(verdict.rawValue), \(note) FROM proposal
                    WHERE host = \(host) AND local_id = \(id) AND state = 'queued'
                    ON CONFLICT (host, proposal_local_id) DO NOTHING RETURNING id
                    """, logger: logger)
                var recorded = false
                for try await _ in rows.decode(Int64.self) { recorded = true }
                if recorded, let decision = try await Self.decision(on: connection, host: host, proposalID: id, logger: logger) {
                    return .recorded(decision)
                }
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
                // Row-level security refused it: the proposal left the queue between the look and the insert.
                logger.debug("the decision was refused by the policy", metadata: ["ai.error": "\(FleetConnection.describe(error))"])
            }
            if let earlier = try await Self.decision(on: connection, host: host, proposalID: id, logger: logger) { return .decidedBefore(earlier) }
            let now = try await Self.proposals(on: connection, where: "host = \(host) AND local_id = \(id)", logger: logger).first
            return .notQueued(now?.record.state ?? proposal.record.state, by: now?.record.decidedBy)
        }
    }

    /// Follows a decision on `host`'s proposal `id` on one connection until the host has refused it, or the proposal
    /// reached a final state as the host published it, or `limit` passed; returns what was seen last.
    public func outcome(host: String, proposalID id: Int64, within limit: Duration) async throws -> (proposal: FleetProposal?, decision: FleetDecision?) {
        let deadline = ContinuousClock.now + limit
        return try await withConnection { connection in
            while true {
                let decision = try await Self.decision(on: connection, host: host, proposalID: id, logger: logger)
                let proposal = try await Self.proposals(on: connection, where: "host = \(host) AND local_id = \(id)", logger: logger).first
                let refused = decision.map { $0.appliedAt != nil && !$0.wasTaken } ?? false
                if refused || proposal?.record.state.isFinal == true || ContinuousClock.now >= deadline { return (proposal, decision) }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// An error as an operator should read it: the server's words when it gave any.
    public static func describe(_ error: any Error) -> String { FleetConnection.describe(error) }

    // MARK: Reading

    private func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await FleetConnection.with(configuration, id: 1, logger: logger) { connection in
            try await FleetSchema.requireCurrentVersion(on: connection, logger: logger)
            return try await body(connection)
        }
    }

    private static func proposals(on connection: PostgresConnection, where condition: PostgresQuery, logger: Logger) async throws -> [FleetProposal] {
        var query: PostgresQuery = """
            SELECT host, local_id, created_at, source, type, parameters::text, unit, rationale, action, risk, expected_effect, rollback,
                   state, reason, decided_by, decided_at, expires_at, result
            FROM proposal WHERE
            """
        query.sql += " " + condition.sql
        query.binds = condition.binds
        let rows = try await connection.query(query, logger: logger)
        var proposals: [FleetProposal] = []
        for try await (host, id, createdAt, source, type, parameters, unit, rationale, action, risk, expectedEffect, rollback, state, reason,
                       decidedBy, decidedAt, expiresAt, result)
            in rows.decode((String, Int64, Date, String, String, String, String?, String, String?, String?, String, String, String, String?,
                            String?, Date?, Date?, String?).self) {
            let decoded = (try? JSONDecoder().decode([String: String].self, from: Data(parameters.utf8))) ?? [:]
            proposals.append(FleetProposal(host: host, record: ProposalRecord(
                id: id, createdAt: createdAt, source: text(source, 256), type: text(type, 64),
                parameters: Dictionary(decoded.map { (text($0.key, 64), text($0.value, 512)) }, uniquingKeysWith: { first, _ in first }),
                unit: unit.map { text($0, 256) }, rationale: text(rationale), action: action.map { text($0) }, risk: risk.map { text($0, 32) },
                expectedEffect: text(expectedEffect), rollback: text(rollback),
                // A state this version does not know is shown as blocked: nothing acts on a fleet row.
                state: ProposalState(rawValue: state) ?? .blocked, reason: reason.map { text($0) }, decidedBy: decidedBy.map { text($0, 256) },
                decidedAt: decidedAt, expiresAt: expiresAt, result: result.map { text($0) })))
        }
        return proposals
    }

    static func decision(on connection: PostgresConnection, host: String, proposalID: Int64, logger: Logger) async throws -> FleetDecision? {
        try await FleetDecision.read(on: connection, where: "host = \(host) AND proposal_local_id = \(proposalID)", logger: logger).first
    }
}

/// One host's proposal as the fleet's database has it (the host's local id in `record.id`).
public struct FleetProposal: Sendable, Equatable, Codable {
    public var host: String
    public var record: ProposalRecord
}
