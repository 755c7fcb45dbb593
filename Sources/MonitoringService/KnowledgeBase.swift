import Foundation
import Store
import SysadminConfiguration
import UpstreamClient

/// The knowledge base as the layers and the CLI use it: full-text search (BM25) and, when
/// `knowledge.embeddings` is configured, the full-text candidates re-ranked by the cosine similarity of their
/// embeddings to the query's. Embeddings are made when a note is added and kept in the store; a note without
/// one (added while the endpoint was away, or under another model) keeps its full-text place after the ranked ones.
/// An endpoint that fails never fails a search or an addition: full text alone answers.
public struct KnowledgeBase: Sendable {
    let store: any KnowledgeStore
    let embedder: Embedder?

    /// How many full-text candidates re-ranking looks at, per note asked for.
    static let candidatesPerResult = 4

    struct Embedder: Sendable {
        let client: OpenAIClient
        let model: String
    }

    public init(store: any KnowledgeStore, configuration: KnowledgeConfiguration) throws {
        self.store = store
        if let settings = configuration.embeddings {
            let key = try settings.apiKeyFile.map { try ModelAPIKey.read(from: $0) }
            let client = OpenAIClient(endpoint: ModelEndpoint(baseURL: settings.url, apiKey: key),
                                      timeouts: .init(connect: .seconds(5), total: .seconds(60), idle: .seconds(30)))
            embedder = Embedder(client: client, model: settings.model ?? "default")
        } else {
            embedder = nil
        }
    }

    /// Full text only.
    public init(store: any KnowledgeStore) {
        self.store = store
        embedder = nil
    }

    public var reranks: Bool { embedder != nil }

    @discardableResult
    public func add(title: String, body: String, tags: [String], at date: Date) async throws -> Int64 {
        let id = try store.addKnowledge(title: title, body: body, tags: tags, at: date)
        if let embedder, let vector = try? await embedder.client.embeddings([title + "\n" + body], model: embedder.model).first {
            try store.setEmbedding(vector, model: embedder.model, forKnowledge: id)
        }
        return id
    }

    public func search(_ query: String, limit: Int) async throws -> [KnowledgeNote] {
        guard let embedder else { return try store.searchKnowledge(query, limit: limit) }
        let candidates = try store.searchKnowledge(query, limit: limit * Self.candidatesPerResult)
        guard candidates.count > 1, let wanted = try? await embedder.client.embeddings([query], model: embedder.model).first else {
            return Array(candidates.prefix(limit))
        }
        let vectors = try store.embeddings(forKnowledge: candidates.map(\.id), model: embedder.model)
        let scored = candidates.enumerated().map { index, note in
            (note: note, similarity: vectors[note.id].map { Self.cosine($0, wanted) }, rank: index)
        }
        // Notes with an embedding by similarity; the rest after them, in full-text order.
        let ordered = scored.sorted { a, b in
            switch (a.similarity, b.similarity) {
            case let (x?, y?): x != y ? x > y : a.rank < b.rank
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): a.rank < b.rank
            }
        }
        return ordered.prefix(limit).map(\.note)
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count, !a.isEmpty else { return -1 }
        var dot: Float = 0, normA: Float = 0, normB: Float = 0
        for i in a.indices {
            dot += a[i] * b[i]
            normA += a[i] * a[i]
            normB += b[i] * b[i]
        }
        return normA > 0 && normB > 0 ? dot / (normA.squareRoot() * normB.squareRoot()) : -1
    }
}
