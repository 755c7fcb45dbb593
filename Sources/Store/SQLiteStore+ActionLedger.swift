import Foundation
import GRDB

extension SQLiteStore: ActionLedger {
    public func insert(_ proposal: NewProposal, state: ProposalState, reason: String?, actor: String, expiresAt: Date?,
                       at date: Date) throws -> ProposalRecord {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO proposal (createdAt, source, type, parameters, unit, rationale, action, risk, expectedEffect, rollback,
                                      state, reason, decidedBy, decidedAt, expiresAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [date, proposal.source, proposal.type, Self.json(proposal.parameters), proposal.parameters["unit"],
                                 proposal.rationale, proposal.action, proposal.risk, proposal.expectedEffect, proposal.rollback,
                                 state.rawValue, reason, state == .queued ? nil : actor, state == .queued ? nil : date, expiresAt])
            let id = db.lastInsertedRowID
            var proposed: [String: String] = ["type": proposal.type, "source": proposal.source, "rationale": proposal.rationale]
            proposal.action.map { proposed["action"] = $0 }
            proposal.risk.map { proposed["risk"] = $0 }
            if !proposal.parameters.isEmpty { proposed["parameters"] = Self.json(proposal.parameters) }
            try Self.appendAudit(db, id, "proposed", actor: proposal.source, detail: proposed, at: date)
            try Self.appendAudit(db, id, state.rawValue, actor: actor, detail: reason.map { ["reason": $0] } ?? [:], at: date)
            return try Self.fetchProposal(db, id)!
        }
    }

    public func apply(_ change: ProposalTransition, to id: Int64, actor: String, reason: String?, detail: String?, result: String?,
                      at date: Date) throws -> Bool {
        let (from, to) = (change.from, change.to)
        return try database.write { db in
            let placeholders = Array(repeating: "?", count: from.count).joined(separator: ", ")
            var arguments: StatementArguments = [to.rawValue, reason, actor, date, result, id]
            arguments += StatementArguments(from.map(\.rawValue).sorted())
            try db.execute(sql: """
                UPDATE proposal SET state = ?, reason = COALESCE(?, reason), decidedBy = ?, decidedAt = ?, result = COALESCE(?, result)
                WHERE id = ? AND state IN (\(placeholders))
                """, arguments: arguments)
            guard db.changesCount == 1 else { return false }
            var details: [String: String] = [:]
            reason.map { details["reason"] = $0 }
            detail.map { details["detail"] = $0 }
            result.map { details["result"] = $0 }
            try Self.appendAudit(db, id, to.rawValue, actor: actor, detail: details, at: date)
            return true
        }
    }

    public func proposal(_ id: Int64) throws -> ProposalRecord? {
        try database.read { db in try Self.fetchProposal(db, id) }
    }

    public func proposals(in states: Set<ProposalState>?, limit: Int) throws -> [ProposalRecord] {
        try database.read { db in
            let filter = states.map { "WHERE state IN (\(Array(repeating: "?", count: $0.count).joined(separator: ", ")))" } ?? ""
            var arguments = StatementArguments((states ?? []).map(\.rawValue).sorted())
            arguments += [limit]
            return try Row.fetchAll(db, sql: "SELECT * FROM proposal \(filter) ORDER BY id DESC LIMIT ?", arguments: arguments)
                .compactMap(Self.proposal(from:))
        }
    }

    public func expiredQueue(at date: Date) throws -> [ProposalRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM proposal WHERE state = 'queued' AND expiresAt <= ? ORDER BY id", arguments: [date])
                .compactMap(Self.proposal(from:))
        }
    }

    public func audit(after id: Int64, since: Date?, unit: String?, limit: Int) throws -> [AuditEntry] {
        try database.read { db in
            var conditions = ["audit.id > ?"]
            var arguments: StatementArguments = [id]
            if let since {
                conditions.append("audit.time >= ?")
                arguments += [since]
            }
            if let unit {
                conditions.append("proposal.unit = ?")
                arguments += [unit]
            }
            arguments += [limit]
            return try Row.fetchAll(db, sql: """
                SELECT audit.*, proposal.unit AS unit FROM audit LEFT JOIN proposal ON proposal.id = audit.proposalID
                WHERE \(conditions.joined(separator: " AND ")) ORDER BY audit.id LIMIT ?
                """, arguments: arguments).map(Self.auditEntry(from:))
        }
    }

    public func latestAudit(limit: Int) throws -> [AuditEntry] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT audit.*, proposal.unit AS unit FROM audit LEFT JOIN proposal ON proposal.id = audit.proposalID
                ORDER BY audit.id DESC LIMIT ?
                """, arguments: [limit]).map(Self.auditEntry(from:))
        }
    }

    static func auditEntry(from row: Row) -> AuditEntry {
        AuditEntry(id: row["id"], time: row["time"], proposalID: row["proposalID"], event: row["event"], actor: row["actor"],
                   detail: row["detail"], unit: row["unit"])
    }

    public func executions(since date: Date) throws -> [(time: Date, type: String, parameters: [String: String])] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT audit.time AS time, proposal.type AS type, proposal.parameters AS parameters
                FROM audit JOIN proposal ON proposal.id = audit.proposalID
                WHERE audit.event = 'executing' AND audit.time >= ? ORDER BY audit.id
                """, arguments: [date]).map { row in
                (row["time"], row["type"], Self.parameters(row["parameters"]))
            }
        }
    }

    private static func appendAudit(_ db: Database, _ id: Int64, _ event: String, actor: String, detail: [String: String], at date: Date) throws {
        try db.execute(sql: "INSERT INTO audit (time, proposalID, event, actor, detail) VALUES (?, ?, ?, ?, ?)",
                       arguments: [date, id, event, actor, json(detail)])
    }

    private static func fetchProposal(_ db: Database, _ id: Int64) throws -> ProposalRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM proposal WHERE id = ?", arguments: [id]).flatMap(proposal(from:))
    }

    private static func proposal(from row: Row) -> ProposalRecord? {
        guard let state = ProposalState(rawValue: row["state"]) else { return nil }
        return ProposalRecord(id: row["id"], createdAt: row["createdAt"], source: row["source"], type: row["type"],
                              parameters: parameters(row["parameters"]), unit: row["unit"], rationale: row["rationale"],
                              action: row["action"], risk: row["risk"], expectedEffect: row["expectedEffect"], rollback: row["rollback"],
                              state: state, reason: row["reason"], decidedBy: row["decidedBy"], decidedAt: row["decidedAt"],
                              expiresAt: row["expiresAt"], result: row["result"])
    }

    static func json(_ object: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(object)) ?? Data("{}".utf8), as: UTF8.self)
    }

    private static func parameters(_ text: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}
