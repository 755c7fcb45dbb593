import Foundation
import Monitoring
import Reasoning

/// What the monitoring layers remember across restarts, one role per concern, so a component can ask for only what
/// it uses. SQLite (``SQLiteStore``, one `SQLiteStore+X.swift` per role) is the embedded default; the roles are the
/// seam for another backend (PostgreSQL).
public typealias MonitoringStore = TemplateStore & EventStore & CursorStore & KnowledgeStore & MetricStore & ConclusionStore

/// Layer 1's memory: templates, their verdicts, and what it decided ahead of a verdict.
public protocol TemplateStore: Sendable {
    func templates() throws -> [TemplateMiner.Template]
    /// Verdicts that have not expired at `date`, by template.
    func verdicts(validAt date: Date) throws -> [Int: Verdict]
    /// Inserts or updates templates (their generalised tokens and line counts) and new verdicts, in one
    /// transaction.
    func save(templates: [TemplateMiner.Template], verdicts: [Int: Verdict], decidedAt: Date, validFor: TimeInterval) throws
    /// Layer 1's commit in one transaction — events, templates, verdicts, cursors, lines kept for a later verdict
    /// and those judged again — so a crash leaves either all of it or none: no line lost, none judged twice.
    func commit(_ commit: TriggerStateMachine.Commit, at date: Date, verdictsValidFor: TimeInterval) throws
    /// The lines an earlier run decided by the rules alone while their templates had no verdict.
    func provisionalLines() throws -> [TriggerStateMachine.ProvisionalLine]
    /// Source → positions of lines decided past the source's cursor (an earlier line was still held).
    func decidedAhead() throws -> [String: Set<String>]
}

/// The events Layer 1 emitted.
public protocol EventStore: Sendable {
    func append(_ events: [TriggerEvent], processedAt: Date) throws
    /// Events at or after `since` (all with nil), oldest first, at most `limit`.
    func events(since: Date?, limit: Int) throws -> [StoredEvent]
    /// Events stored after event `id`, in the order they were stored, at most `limit` (what a reader that keeps its
    /// place by id has not seen).
    func events(afterID id: Int64, limit: Int) throws -> [StoredEvent]
    /// The newest `limit` events, newest first.
    func latestEvents(limit: Int) throws -> [StoredEvent]
    /// Events at or after `date` counted by the hour they happened in (its start, in seconds since the epoch) and
    /// by severity.
    func eventCountsPerHour(since date: Date) throws -> [Int64: [Severity: Int]]
    /// Whether an escalating event arrived at or after `date` (a cheap check a loop can make often).
    func hasEscalation(since date: Date) throws -> Bool
    /// Stored events of one unit (by `_SYSTEMD_UNIT` or identifier) since `date`, newest first.
    func events(ofUnit unit: String, since date: Date, limit: Int) throws -> [StoredEvent]
    /// Retention: deletes events older than `date`; returns how many.
    @discardableResult
    func deleteEvents(olderThan date: Date) throws -> Int
}

/// Where each log source stopped.
public protocol CursorStore: Sendable {
    /// Where a source stopped (a journal cursor), so a restart neither loses nor repeats entries.
    func cursor(for source: String) throws -> String?
    func setCursor(_ cursor: String, for source: String) throws
}

/// The knowledge base: notes, full-text search, embeddings.
public protocol KnowledgeStore: Sendable {
    /// Adds a note to the knowledge base (what was learnt: a fix, a runbook step, an analysis's lesson).
    @discardableResult
    func addKnowledge(title: String, body: String, tags: [String], at date: Date) throws -> Int64
    /// Full-text search (BM25), best first.
    func searchKnowledge(_ query: String, limit: Int) throws -> [KnowledgeNote]
    /// Keeps a note's embedding (from `model`) for re-ranking.
    func setEmbedding(_ vector: [Float], model: String, forKnowledge id: Int64) throws
    /// The stored embeddings of these notes made by `model`.
    func embeddings(forKnowledge ids: [Int64], model: String) throws -> [Int64: [Float]]
}

/// Host metric readings.
public protocol MetricStore: Sendable {
    /// Keeps a metric reading (`cpu`, `memory`, `swap`, `load_per_cpu`, `disk:/mount`).
    func appendMetrics(_ values: [String: Double], at date: Date) throws
    /// One metric's readings since `date`, oldest first.
    func metricHistory(_ name: String, since date: Date) throws -> [(time: Date, value: Double)]
    /// The names of the metrics read since `date`, sorted.
    func metricNames(since date: Date) throws -> [String]
    /// Retention for metric readings; returns how many were deleted.
    @discardableResult
    func deleteMetrics(olderThan date: Date) throws -> Int
}

/// What Layers 3 and 4 concluded: reviews and analyses.
public protocol ConclusionStore: Sendable {
    @discardableResult
    func append(_ review: Review, at date: Date) throws -> Int64
    func reviews(limit: Int) throws -> [(time: Date, review: Review)]
    /// Reviews stored after review `id`, in the order they were stored, at most `limit` (a reader that keeps its place).
    func reviews(afterID id: Int64, limit: Int) throws -> [(id: Int64, time: Date, review: Review)]
    /// Keeps one analysis, finished or failed, with the tool steps it took; returns its id.
    @discardableResult
    func append(_ analysis: StoredAnalysis) throws -> Int64
    func analyses(limit: Int) throws -> [StoredAnalysis]
    /// Analyses stored after analysis `id`, in the order they were stored, at most `limit`.
    func analyses(afterID id: Int64, limit: Int) throws -> [StoredAnalysis]
}
