import Foundation
import GRDB
import Monitoring
import Reasoning

/// An event as stored: what happened, when, and what was decided about it.
public struct StoredEvent: Sendable, Equatable, Codable {
    public var id: Int64
    /// Microseconds since the epoch: the log line's own time when it had one, else when it was processed.
    public var timeMicroseconds: Int64
    public var templateID: Int
    public var severity: Severity
    public var category: Category
    public var escalate: Bool
    public var summary: String
    public var source: String
    public var message: String
    public var unit: String?
    public var identifier: String?
}

/// A Layer 4 analysis as stored: what escalated, the tool steps, and the analysis or why there is none.
public struct StoredAnalysis: Sendable, Equatable, Codable {
    public struct Step: Sendable, Equatable, Codable {
        public var tool: String
        public var arguments: [String: String]
        public var result: String

        public init(tool: String, arguments: [String: String], result: String) {
            self.tool = tool
            self.arguments = arguments
            self.result = result
        }
    }

    public var id: Int64
    public var time: Date
    public var escalation: String
    public var analysis: Analysis?
    public var failure: String?
    public var steps: [Step]

    public init(id: Int64 = 0, time: Date, escalation: String, analysis: Analysis?, failure: String?, steps: [Step]) {
        self.id = id
        self.time = time
        self.escalation = escalation
        self.analysis = analysis
        self.failure = failure
        self.steps = steps
    }
}

/// A knowledge-base entry.
public struct KnowledgeNote: Sendable, Equatable, Codable {
    public var id: Int64
    public var time: Date
    public var title: String
    public var body: String
    public var tags: [String]
}

/// What the monitoring layers remember across restarts. SQLite (``SQLiteStore``) is the embedded default;
/// the protocol is the seam for another backend (PostgreSQL).
public protocol MonitoringStore: Sendable {
    func templates() throws -> [TemplateMiner.Template]
    /// Verdicts that have not expired at `date`, by template.
    func verdicts(validAt date: Date) throws -> [Int: Verdict]
    /// Inserts or updates templates (their generalised tokens and line counts) and new verdicts, in one
    /// transaction.
    func save(templates: [TemplateMiner.Template], verdicts: [Int: Verdict], decidedAt: Date, validFor: TimeInterval) throws
    func append(_ events: [TriggerEvent], processedAt: Date) throws
    /// Layer 1's commit in one transaction — events, templates, verdicts, cursors, lines kept for a later verdict
    /// and those judged again — so a crash leaves either all of it or none: no line lost, none judged twice.
    func commit(_ commit: TriggerStateMachine.Commit, at date: Date, verdictsValidFor: TimeInterval) throws
    /// The lines an earlier run decided by the rules alone while their templates had no verdict.
    func provisionalLines() throws -> [TriggerStateMachine.ProvisionalLine]
    /// Source → positions of lines decided past the source's cursor (an earlier line was still held).
    func decidedAhead() throws -> [String: Set<String>]
    func events(since: Date?, limit: Int) throws -> [StoredEvent]
    /// Whether an escalating event arrived at or after `date` (a cheap check a loop can make often).
    func hasEscalation(since date: Date) throws -> Bool
    /// Where a source stopped (a journal cursor), so a restart neither loses nor repeats entries.
    func cursor(for source: String) throws -> String?
    func setCursor(_ cursor: String, for source: String) throws
    /// Adds a note to the knowledge base (what was learnt: a fix, a runbook step, an analysis's lesson).
    @discardableResult
    func addKnowledge(title: String, body: String, tags: [String], at date: Date) throws -> Int64
    /// Full-text search (BM25), best first.
    func searchKnowledge(_ query: String, limit: Int) throws -> [KnowledgeNote]
    /// Keeps a note's embedding (from `model`) for re-ranking.
    func setEmbedding(_ vector: [Float], model: String, forKnowledge id: Int64) throws
    /// The stored embeddings of these notes made by `model`.
    func embeddings(forKnowledge ids: [Int64], model: String) throws -> [Int64: [Float]]
    /// Keeps a metric reading (`cpu`, `memory`, `swap`, `load_per_cpu`, `disk:/mount`).
    func appendMetrics(_ values: [String: Double], at date: Date) throws
    /// One metric's readings since `date`, oldest first.
    func metricHistory(_ name: String, since date: Date) throws -> [(time: Date, value: Double)]
    /// Retention for metric readings; returns how many were deleted.
    @discardableResult
    func deleteMetrics(olderThan date: Date) throws -> Int
    @discardableResult
    func append(_ review: Review, at date: Date) throws -> Int64
    func reviews(limit: Int) throws -> [(time: Date, review: Review)]
    /// Keeps one analysis, finished or failed, with the tool steps it took; returns its id.
    @discardableResult
    func append(_ analysis: StoredAnalysis) throws -> Int64
    func analyses(limit: Int) throws -> [StoredAnalysis]
    /// Stored events of one unit (by `_SYSTEMD_UNIT` or identifier) since `date`, newest first.
    func events(ofUnit unit: String, since date: Date, limit: Int) throws -> [StoredEvent]
    /// Retention: deletes events older than `date`; returns how many.
    @discardableResult
    func deleteEvents(olderThan date: Date) throws -> Int
}

/// One SQLite file (WAL, so readers never wait for the writer), with versioned migrations.
public final class SQLiteStore: MonitoringStore {
    let database: DatabasePool

    public init(path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: templates, verdicts, events, cursors") { db in
            try db.create(table: "template") { t in
                t.primaryKey("id", .integer)
                t.column("tokens", .text).notNull()
                t.column("lineCount", .integer).notNull()
            }
            try db.create(table: "verdict") { t in
                t.primaryKey("templateID", .integer).references("template", onDelete: .cascade)
                t.column("severity", .text).notNull()
                t.column("category", .text).notNull()
                t.column("escalate", .boolean).notNull()
                t.column("summary", .text).notNull()
                t.column("decidedAt", .datetime).notNull()
                t.column("expiresAt", .datetime).notNull().indexed()
            }
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("timeMicroseconds", .integer).notNull().indexed()
                t.column("templateID", .integer).notNull()
                t.column("severity", .text).notNull()
                t.column("category", .text).notNull()
                t.column("escalate", .boolean).notNull()
                t.column("summary", .text).notNull()
                t.column("source", .text).notNull()
                t.column("message", .text).notNull()
                t.column("unit", .text)
                t.column("identifier", .text)
            }
            try db.create(table: "cursor") { t in
                t.primaryKey("source", .text)
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v2: reviews") { db in
            try db.create(table: "review") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .datetime).notNull().indexed()
                t.column("status", .text).notNull()
                t.column("escalate", .boolean).notNull()
                t.column("summary", .text).notNull()
                t.column("json", .text).notNull()
            }
        }
        migrator.registerMigration("v3: knowledge base") { db in
            try db.create(table: "knowledge") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .datetime).notNull()
                t.column("title", .text).notNull()
                t.column("body", .text).notNull()
                t.column("tags", .text).notNull()
            }
            // Porter stemming, so "restarting" finds "restart"; kept in step with the table by GRDB's triggers.
            try db.create(virtualTable: "knowledge_fts", using: FTS5()) { t in
                t.synchronize(withTable: "knowledge")
                t.tokenizer = .porter()
                t.column("title")
                t.column("body")
                t.column("tags")
            }
        }
        migrator.registerMigration("v4: metric history") { db in
            try db.create(table: "metric") { t in
                t.column("name", .text).notNull()
                t.column("time", .datetime).notNull()
                t.column("value", .double).notNull()
            }
            try db.create(index: "metric_by_name_and_time", on: "metric", columns: ["name", "time"])
            try db.create(index: "metric_by_time", on: "metric", columns: ["time"])
        }
        migrator.registerMigration("v7: knowledge embeddings") { db in
            try db.create(table: "knowledge_embedding") { t in
                t.primaryKey("knowledgeID", .integer).references("knowledge", onDelete: .cascade)
                t.column("model", .text).notNull()
                t.column("vector", .blob).notNull()
            }
        }
        migrator.registerMigration("v6: analyses") { db in
            try db.create(table: "analysis") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .datetime).notNull().indexed()
                t.column("escalation", .text).notNull()
                t.column("status", .text).notNull()
                t.column("diagnosis", .text)
                t.column("failure", .text)
                t.column("steps", .text).notNull()
                t.column("json", .text)
            }
        }
        migrator.registerMigration("v8: provisional lines, lines decided ahead of a cursor") { db in
            try db.create(table: "decided_ahead") { t in
                t.column("source", .text).notNull()
                t.column("position", .text).notNull()
                t.primaryKey(["source", "position"])
            }
            try db.create(table: "provisional_line") { t in
                t.primaryKey("key", .text)
                t.column("templateID", .integer).notNull().indexed()
                t.column("record", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("ruledSeverity", .text)
                t.column("ruledEscalate", .boolean).notNull()
                t.column("keptAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v5: proposals and the audit log") { db in
            try db.create(table: "proposal") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("createdAt", .datetime).notNull().indexed()
                t.column("source", .text).notNull()
                t.column("type", .text).notNull()
                t.column("parameters", .text).notNull()
                t.column("unit", .text).indexed()
                t.column("rationale", .text).notNull()
                t.column("action", .text)
                t.column("risk", .text)
                t.column("expectedEffect", .text).notNull()
                t.column("rollback", .text).notNull()
                t.column("state", .text).notNull().indexed()
                t.column("reason", .text)
                t.column("decidedBy", .text)
                t.column("decidedAt", .datetime)
                t.column("expiresAt", .datetime)
                t.column("result", .text)
            }
            try db.create(table: "audit") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .datetime).notNull().indexed()
                t.column("proposalID", .integer).notNull().indexed()
                t.column("event", .text).notNull()
                t.column("actor", .text).notNull()
                t.column("detail", .text).notNull()
            }
            // Append-only in the database itself, not just by convention of this code.
            try db.execute(sql: """
                CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                """)
        }
        return migrator
    }

    public func appendMetrics(_ values: [String: Double], at date: Date) throws {
        guard !values.isEmpty else { return }
        try database.write { db in
            for (name, value) in values where value.isFinite {
                try db.execute(sql: "INSERT INTO metric (name, time, value) VALUES (?, ?, ?)", arguments: [name, date, value])
            }
        }
    }

    public func metricHistory(_ name: String, since date: Date) throws -> [(time: Date, value: Double)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT time, value FROM metric WHERE name = ? AND time >= ? ORDER BY time", arguments: [name, date])
                .map { ($0["time"], $0["value"]) }
        }
    }

    @discardableResult
    public func deleteMetrics(olderThan date: Date) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM metric WHERE time < ?", arguments: [date])
            return db.changesCount
        }
    }

    @discardableResult
    public func addKnowledge(title: String, body: String, tags: [String], at date: Date) throws -> Int64 {
        try database.write { db in
            try db.execute(sql: "INSERT INTO knowledge (time, title, body, tags) VALUES (?, ?, ?, ?)",
                           arguments: [date, title, body, tags.joined(separator: " ")])
            return db.lastInsertedRowID
        }
    }

    public func searchKnowledge(_ query: String, limit: Int) throws -> [KnowledgeNote] {
        // The words of the query, each quoted: FTS5 syntax from a user (or a model) is not interpreted.
        guard let pattern = FTS5Pattern(matchingAnyTokenIn: query) else { return [] }
        return try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT knowledge.* FROM knowledge JOIN knowledge_fts ON knowledge_fts.rowid = knowledge.id
                WHERE knowledge_fts MATCH ? ORDER BY bm25(knowledge_fts, 5.0, 1.0, 2.0) LIMIT ?
                """, arguments: [pattern, limit]).map { row in
                let tags: String = row["tags"]
                return KnowledgeNote(id: row["id"], time: row["time"], title: row["title"], body: row["body"],
                                     tags: tags.split(separator: " ").map(String.init))
            }
        }
    }

    public func setEmbedding(_ vector: [Float], model: String, forKnowledge id: Int64) throws {
        let data = vector.withUnsafeBufferPointer { Data(buffer: $0) }
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO knowledge_embedding (knowledgeID, model, vector) VALUES (?, ?, ?)
                ON CONFLICT(knowledgeID) DO UPDATE SET model = excluded.model, vector = excluded.vector
                """, arguments: [id, model, data])
        }
    }

    public func embeddings(forKnowledge ids: [Int64], model: String) throws -> [Int64: [Float]] {
        guard !ids.isEmpty else { return [:] }
        return try database.read { db in
            var arguments = StatementArguments(ids)
            arguments += [model]
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            var vectors: [Int64: [Float]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT knowledgeID, vector FROM knowledge_embedding WHERE knowledgeID IN (\(placeholders)) AND model = ?",
                                        arguments: arguments) {
                let data: Data = row["vector"]
                vectors[row["knowledgeID"]] = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            }
            return vectors
        }
    }

    @discardableResult
    public func append(_ review: Review, at date: Date) throws -> Int64 {
        let json = String(decoding: try JSONEncoder().encode(review), as: UTF8.self)
        return try database.write { db in
            try db.execute(sql: "INSERT INTO review (time, status, escalate, summary, json) VALUES (?, ?, ?, ?, ?)",
                           arguments: [date, review.status.rawValue, review.escalate, review.summary, json])
            return db.lastInsertedRowID
        }
    }

    @discardableResult
    public func append(_ analysis: StoredAnalysis) throws -> Int64 {
        let steps = String(decoding: try JSONEncoder().encode(analysis.steps), as: UTF8.self)
        let json = try analysis.analysis.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try database.write { db in
            try db.execute(sql: "INSERT INTO analysis (time, escalation, status, diagnosis, failure, steps, json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [analysis.time, analysis.escalation, analysis.analysis == nil ? "failed" : "done",
                                       analysis.analysis?.diagnosis, analysis.failure, steps, json])
            return db.lastInsertedRowID
        }
    }

    public func analyses(limit: Int) throws -> [StoredAnalysis] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM analysis ORDER BY time DESC, id DESC LIMIT ?", arguments: [limit]).map { row in
                let steps: String = row["steps"]
                let json: String? = row["json"]
                return StoredAnalysis(
                    id: row["id"], time: row["time"], escalation: row["escalation"],
                    analysis: json.flatMap { try? JSONDecoder().decode(Analysis.self, from: Data($0.utf8)) }, failure: row["failure"],
                    steps: (try? JSONDecoder().decode([StoredAnalysis.Step].self, from: Data(steps.utf8))) ?? [])
            }
        }
    }

    public func events(ofUnit unit: String, since date: Date, limit: Int) throws -> [StoredEvent] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM event WHERE timeMicroseconds >= ? AND (unit = ? OR identifier = ?) ORDER BY timeMicroseconds DESC, id DESC LIMIT ?
                """, arguments: [Int64(date.timeIntervalSince1970 * 1_000_000), unit, unit, limit]).compactMap(Self.event(from:))
        }
    }

    public func reviews(limit: Int) throws -> [(time: Date, review: Review)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT time, json FROM review ORDER BY time DESC, id DESC LIMIT ?", arguments: [limit]).compactMap { row in
                let json: String = row["json"]
                guard let review = try? JSONDecoder().decode(Review.self, from: Data(json.utf8)) else { return nil }
                return (row["time"], review)
            }
        }
    }

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

    public func append(_ events: [TriggerEvent], processedAt: Date) throws {
        guard !events.isEmpty else { return }
        try database.write { db in try Self.append(events, processedAt: processedAt, in: db) }
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

    private static func save(templates: [TemplateMiner.Template], verdicts: [Int: Verdict], decidedAt: Date, validFor: TimeInterval,
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

    private static func append(_ events: [TriggerEvent], processedAt: Date, in db: Database) throws {
        guard !events.isEmpty else { return }
        let now = Int64(processedAt.timeIntervalSince1970 * 1_000_000)
        let statement = try db.makeStatement(sql: """
            INSERT INTO event (timeMicroseconds, templateID, severity, category, escalate, summary, source, message, unit, identifier)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for event in events {
            try statement.execute(arguments: [
                event.record.timestampMicroseconds ?? now, event.templateID, event.severity.rawValue, event.category.rawValue,
                event.escalate, event.summary, event.source.rawValue, event.record.message, event.record.unit, event.record.identifier,
            ])
        }
    }

    public func events(since: Date?, limit: Int) throws -> [StoredEvent] {
        try database.read { db in
            let after = since.map { Int64($0.timeIntervalSince1970 * 1_000_000) } ?? Int64.min
            return try Row.fetchAll(db, sql: "SELECT * FROM event WHERE timeMicroseconds >= ? ORDER BY timeMicroseconds, id LIMIT ?",
                                    arguments: [after, limit]).compactMap(Self.event(from:))
        }
    }

    private static func event(from row: Row) -> StoredEvent? {
        guard let severity = Severity(rawValue: row["severity"]), let category = Category(rawValue: row["category"]) else { return nil }
        return StoredEvent(id: row["id"], timeMicroseconds: row["timeMicroseconds"], templateID: row["templateID"],
                           severity: severity, category: category, escalate: row["escalate"], summary: row["summary"],
                           source: row["source"], message: row["message"], unit: row["unit"], identifier: row["identifier"])
    }

    public func hasEscalation(since date: Date) throws -> Bool {
        try database.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM event WHERE timeMicroseconds >= ? AND escalate)",
                              arguments: [Int64(date.timeIntervalSince1970 * 1_000_000)]) ?? false
        }
    }

    public func cursor(for source: String) throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT value FROM cursor WHERE source = ?", arguments: [source]) }
    }

    public func setCursor(_ cursor: String, for source: String) throws {
        try database.write { db in try Self.setCursor(cursor, for: source, in: db) }
    }

    private static func setCursor(_ cursor: String, for source: String, in db: Database) throws {
        try db.execute(sql: "INSERT INTO cursor (source, value) VALUES (?, ?) ON CONFLICT(source) DO UPDATE SET value = excluded.value",
                       arguments: [source, cursor])
    }

    @discardableResult
    public func deleteEvents(olderThan date: Date) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM event WHERE timeMicroseconds < ?", arguments: [Int64(date.timeIntervalSince1970 * 1_000_000)])
            return db.changesCount
        }
    }
}
