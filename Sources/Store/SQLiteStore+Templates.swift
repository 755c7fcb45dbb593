import Foundation
import GRDB
import Monitoring

extension SQLiteStore {
    public func templates() throws -> [TemplateMiner.Template] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, tokens, lineCount FROM template ORDER BY id").map { row in
                let tokens: String = row["tokens"]
                let split = tokens.isEmpty ? [] : tokens.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                return TemplateMiner.Template(id: row["id"], tokens: split, count: row["lineCount"])
            }
        }
    }

    public func verdicts(validAt date: Date) throws -> [Int: Verdict] {
        try database.read { db in
            var verdicts: [Int: Verdict] = [:]
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM verdict WHERE expiresAt > ?", arguments: [date])
            for row in rows {
                // A row another version wrote with a value this one does not know is skipped, not guessed.
                guard let severity = Severity(rawValue: row["severity"]), let category = Category(rawValue: row["category"]) else { continue }
                verdicts[row["templateID"]] = Verdict(severity: severity, category: category, escalate: row["escalate"], summary: row["summary"])
            }
            return verdicts
        }
    }

    public func save(templates: [TemplateMiner.Template], verdicts: [Int: Verdict], decidedAt: Date, validFor: TimeInterval) throws {
        try database.write { db in
            try Self.save(templates: templates, verdicts: verdicts, decidedAt: decidedAt, validFor: validFor, in: db)
        }
    }

    public func commit(_ commit: TriggerStateMachine.Commit, at date: Date, verdictsValidFor: TimeInterval) throws {
        guard !commit.isEmpty else { return }
        let encoder = JSONEncoder()
        try database.write { db in
            try Self.append(commit.events, processedAt: date, in: db)
            try Self.save(templates: commit.templates, verdicts: commit.verdicts, decidedAt: date, validFor: verdictsValidFor, in: db)
            for (source, cursor) in commit.cursors { try Self.setCursor(cursor, for: source, in: db) }
            for (source, positions) in commit.decidedAhead {
                for position in positions {
                    try db.execute(sql: "INSERT OR IGNORE INTO decided_ahead (source, position) VALUES (?, ?)", arguments: [source, position])
                }
            }
            for (source, positions) in commit.passed {
                for position in positions {
                    try db.execute(sql: "DELETE FROM decided_ahead WHERE source = ? AND position = ?", arguments: [source, position])
                }
            }
            for line in commit.provisional {
                try db.execute(sql: """
                    INSERT OR REPLACE INTO provisional_line (key, templateID, record, reason, ruledSeverity, ruledEscalate, keptAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [line.key, line.templateID, String(decoding: try encoder.encode(line.record), as: UTF8.self), line.reason,
                                     line.ruledSeverity?.rawValue, line.ruledEscalate, date])
            }
            for key in commit.resolved {
                try db.execute(sql: "DELETE FROM provisional_line WHERE key = ?", arguments: [key])
            }
        }
    }

    public func provisionalLines() throws -> [TriggerStateMachine.ProvisionalLine] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM provisional_line ORDER BY keptAt, key").compactMap { row in
                let record: String = row["record"]
                // A row this version cannot read is left for a person to look at, not guessed.
                guard let decoded = try? JSONDecoder().decode(LogRecord.self, from: Data(record.utf8)) else { return nil }
                let severity: String? = row["ruledSeverity"]
                return TriggerStateMachine.ProvisionalLine(key: row["key"], templateID: row["templateID"], record: decoded, reason: row["reason"],
                                                           ruledSeverity: severity.flatMap(Severity.init(rawValue:)), ruledEscalate: row["ruledEscalate"])
            }
        }
    }

    public func decidedAhead() throws -> [String: Set<String>] {
        try database.read { db in
            var positions: [String: Set<String>] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT source, position FROM decided_ahead") {
                positions[row["source"], default: []].insert(row["position"])
            }
            return positions
        }
    }

    static func save(templates: [TemplateMiner.Template], verdicts: [Int: Verdict], decidedAt: Date, validFor: TimeInterval,
                             in db: Database) throws {
        for template in templates {
            try db.execute(sql: """
                INSERT INTO template (id, tokens, lineCount) VALUES (?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET tokens = excluded.tokens, lineCount = excluded.lineCount
                """, arguments: [template.id, template.text, template.count])
        }
        for (id, verdict) in verdicts {
            try db.execute(sql: """
                INSERT INTO verdict (templateID, severity, category, escalate, summary, decidedAt, expiresAt)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(templateID) DO UPDATE SET severity = excluded.severity, category = excluded.category,
                    escalate = excluded.escalate, summary = excluded.summary, decidedAt = excluded.decidedAt,
                    expiresAt = excluded.expiresAt
                """, arguments: [id, verdict.severity.rawValue, verdict.category.rawValue, verdict.escalate, verdict.summary,
                                 decidedAt, decidedAt.addingTimeInterval(validFor)])
        }
    }
}
