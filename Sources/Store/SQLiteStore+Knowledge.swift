import Foundation
import GRDB

extension SQLiteStore {
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
}
