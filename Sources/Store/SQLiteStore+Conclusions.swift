import Foundation
import GRDB
import Reasoning

extension SQLiteStore {
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
            try Row.fetchAll(db, sql: "SELECT * FROM analysis ORDER BY time DESC, id DESC LIMIT ?", arguments: [limit]).map(Self.analysis(from:))
        }
    }

    public func analyses(afterID id: Int64, limit: Int) throws -> [StoredAnalysis] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM analysis WHERE id > ? ORDER BY id LIMIT ?", arguments: [id, limit]).map(Self.analysis(from:))
        }
    }

    static func analysis(from row: Row) -> StoredAnalysis {
        let steps: String = row["steps"]
        let json: String? = row["json"]
        return StoredAnalysis(
            id: row["id"], time: row["time"], escalation: row["escalation"],
            analysis: json.flatMap { try? JSONDecoder().decode(Analysis.self, from: Data($0.utf8)) }, failure: row["failure"],
            steps: (try? JSONDecoder().decode([StoredAnalysis.Step].self, from: Data(steps.utf8))) ?? [])
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

    public func reviews(afterID id: Int64, limit: Int) throws -> [(id: Int64, time: Date, review: Review)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, time, json FROM review WHERE id > ? ORDER BY id LIMIT ?", arguments: [id, limit]).compactMap { row in
                let json: String = row["json"]
                guard let review = try? JSONDecoder().decode(Review.self, from: Data(json.utf8)) else { return nil }
                return (row["id"], row["time"], review)
            }
        }
    }
}
