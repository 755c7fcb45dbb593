import Foundation
import GRDB
import Monitoring

extension SQLiteStore {
    public func events(ofUnit unit: String, since date: Date, limit: Int) throws -> [StoredEvent] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM event WHERE timeMicroseconds >= ? AND (unit = ? OR identifier = ?) ORDER BY timeMicroseconds DESC, id DESC LIMIT ?
                """, arguments: [Int64(date.timeIntervalSince1970 * 1_000_000), unit, unit, limit]).compactMap(Self.event(from:))
        }
    }

    public func append(_ events: [TriggerEvent], processedAt: Date) throws {
        guard !events.isEmpty else { return }
        try database.write { db in try Self.append(events, processedAt: processedAt, in: db) }
    }

    static func append(_ events: [TriggerEvent], processedAt: Date, in db: Database) throws {
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

    public func events(afterID id: Int64, limit: Int) throws -> [StoredEvent] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM event WHERE id > ? ORDER BY id LIMIT ?", arguments: [id, limit]).compactMap(Self.event(from:))
        }
    }

    public func latestEvents(limit: Int) throws -> [StoredEvent] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM event ORDER BY id DESC LIMIT ?", arguments: [limit]).compactMap(Self.event(from:))
        }
    }

    public func eventCountsPerHour(since date: Date) throws -> [Int64: [Severity: Int]] {
        try database.read { db in
            var counts: [Int64: [Severity: Int]] = [:]
            let rows = try Row.fetchAll(db, sql: """
                SELECT timeMicroseconds / 3600000000 * 3600 AS hour, severity, COUNT(*) AS count FROM event
                WHERE timeMicroseconds >= ? GROUP BY hour, severity
                """, arguments: [Int64(date.timeIntervalSince1970 * 1_000_000)])
            for row in rows {
                guard let severity = Severity(rawValue: row["severity"]) else { continue }
                counts[row["hour"], default: [:]][severity] = row["count"]
            }
            return counts
        }
    }

    static func event(from row: Row) -> StoredEvent? {
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

    @discardableResult
    public func deleteEvents(olderThan date: Date) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM event WHERE timeMicroseconds < ?", arguments: [Int64(date.timeIntervalSince1970 * 1_000_000)])
            return db.changesCount
        }
    }
}
