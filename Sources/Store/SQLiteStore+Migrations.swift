import Foundation
import GRDB

extension SQLiteStore {
    /// Every schema change, registered in the order they run (GRDB records which a database has applied).
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
        migrator.registerMigration("v7: knowledge embeddings") { db in
            try db.create(table: "knowledge_embedding") { t in
                t.primaryKey("knowledgeID", .integer).references("knowledge", onDelete: .cascade)
                t.column("model", .text).notNull()
                t.column("vector", .blob).notNull()
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
        return migrator
    }
}
