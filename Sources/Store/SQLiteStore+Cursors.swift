import Foundation
import GRDB

extension SQLiteStore {
    public func cursor(for source: String) throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT value FROM cursor WHERE source = ?", arguments: [source]) }
    }

    public func setCursor(_ cursor: String, for source: String) throws {
        try database.write { db in try Self.setCursor(cursor, for: source, in: db) }
    }

    static func setCursor(_ cursor: String, for source: String, in db: Database) throws {
        try db.execute(sql: "INSERT INTO cursor (source, value) VALUES (?, ?) ON CONFLICT(source) DO UPDATE SET value = excluded.value",
                       arguments: [source, cursor])
    }
}
