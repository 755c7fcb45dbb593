import Foundation
import GRDB

extension SQLiteStore {
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

    public func metricNames(since date: Date) throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT name FROM metric WHERE time >= ? ORDER BY name", arguments: [date])
        }
    }

    @discardableResult
    public func deleteMetrics(olderThan date: Date) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM metric WHERE time < ?", arguments: [date])
            return db.changesCount
        }
    }
}
