import Foundation
import Logging
import Monitoring
import PostgresNIO
import ServiceLifecycle
import Store
import Synchronization
import SysadminConfiguration

/// Publishes this host's store to the fleet's PostgreSQL database: new events, every proposal whose state changed
/// with its audit lines, and a heartbeat, every `interval`.
///
/// The host's SQLite file stays the store every layer uses, so the database being away stops nothing: what was not
/// published yet waits in it (the spool). The publisher keeps its place per kind of row in the store's cursors
/// (`fleet:event`, `fleet:audit`) and moves it only after the database committed the batch; rows are keyed by
/// (host, local id) and written with `ON CONFLICT`, so a batch sent again after a crash or a lost answer is neither
/// lost nor doubled, and everything arrives in the order it happened.
public actor FleetPublisher: Service {
    public typealias PublishedStore = EventStore & CursorStore & ActionLedger & ConclusionStore

    let store: any PublishedStore
    let connection: PostgresConnection.Configuration
    let interval: Duration
    let heartbeat: @Sendable () -> Data
    let logger: Logger
    public nonisolated let health: FleetHealth
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private var nextConnectionID = 0

    /// Rows per statement: one round trip per batch.
    static let batch = 500
    /// The longest one publication may take before the database counts as away.
    static let publicationTimeout = Duration.seconds(15)

    public init(configuration: PostgreSQLConfiguration, store: any PublishedStore, logger: Logger,
                heartbeat: @escaping @Sendable () -> Data) throws(ConfigurationError) {
        self.connection = try FleetConnection.configuration(configuration, passwordKey: "store.postgresql.passwordFile")
        self.store = store
        self.interval = .milliseconds(Int64(configuration.publishIntervalSeconds * 1000))
        self.heartbeat = heartbeat
        self.logger = logger
        self.health = FleetHealth(host: configuration.hostID ?? self.connection.username)
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func run() async throws {
        let (wake, interval) = (self.wake, self.interval)
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                wake.yield()
            }
        }
        defer { ticker.cancel() }
        await cancelWhenGracefulShutdown {
            await self.publishReportingHealth()
            for await _ in self.wakeups { await self.publishReportingHealth() }
        }
    }

    /// Publishes now rather than at the next tick (a decision from the fleet was applied: its operator waits).
    public nonisolated func publishSoon() {
        wake.yield()
    }

    /// One publication; its outcome goes to ``health``.
    public func publishReportingHealth() async {
        do {
            let counts = try await withTimeout(Self.publicationTimeout) { try await self.publish() }
            health.published(events: counts.events, auditLines: counts.auditLines)
        } catch {
            // Shutting down often surfaces as a closed connection, not as a cancellation: not the database's absence.
            if Task.isCancelled { return }
            let reason = FleetConnection.describe(error)
            if health.failed(reason) { logger.warning("the fleet's database is away; this host keeps its rows until it is back", metadata: ["ai.error": "\(reason)"]) }
        }
    }

    /// Publishes everything the store holds beyond the cursors and the heartbeat, on a connection of its own (one
    /// connection every few seconds costs the database little, and leaves nothing half-open while it is away);
    /// returns how many rows went.
    func publish() async throws -> (events: Int, auditLines: Int) {
        nextConnectionID += 1
        return try await FleetConnection.with(connection, id: nextConnectionID, logger: logger) { connection in
            try await publish(on: connection)
        }
    }

    private func publish(on connection: PostgresConnection) async throws -> (events: Int, auditLines: Int) {
        // A store that started over must not even send a heartbeat in the real host's name. Then the heartbeat: a host
        // catching up on a long backlog shows in the fleet meanwhile.
        try await refuseAStoreThatStartedOver(on: connection)
        let beat = Self.jsonb(String(decoding: heartbeat(), as: UTF8.self))
        try await connection.query("""
            INSERT INTO host (heartbeat_at, heartbeat) VALUES (now(), \(beat)::jsonb)
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, heartbeat = excluded.heartbeat
            """, logger: logger)
        let store = self.store, logger = self.logger
        let sentEvents = try await drain("fleet:event", fetch: { try store.events(afterID: $0, limit: Self.batch) }, id: \.id) { events in
            try await connection.query(Self.insert(events), logger: logger)
        }
        let sentAudit = try await drain("fleet:audit", fetch: { try store.audit(after: $0, since: nil, unit: nil, limit: Self.batch) }, id: \.id) { lines in
            // A proposal changes only with an audit line: the proposals these lines are about, as they stand now, go
            // in the same transaction.
            let proposals = try Set(lines.map(\.proposalID)).sorted().compactMap { try store.proposal($0) }
            try await connection.withTransaction(logger: logger) { connection in
                for proposal in proposals { try await connection.query(Self.upsert(proposal), logger: logger) }
                try await connection.query(Self.insert(lines), logger: logger)
            }
        }
        // Reviews and analyses, as documents: the fleet reads them, nothing queries inside them.
        _ = try await drain("fleet:review", fetch: { try store.reviews(afterID: $0, limit: Self.batch) }, id: \.id) { reviews in
            try await connection.query(Self.insertConclusions("review", reviews.map { ($0.id, $0.time, Self.document($0.review)) }), logger: logger)
        }
        _ = try await drain("fleet:analysis", fetch: { try store.analyses(afterID: $0, limit: Self.batch) }, id: \.id) { analyses in
            try await connection.query(Self.insertConclusions("analysis", analyses.map { ($0.id, $0.time, Self.document($0)) }), logger: logger)
        }
        return (sentEvents, sentAudit)
    }

    /// Sends what the store holds after `cursor`, a batch at a time, and moves the cursor past each batch once the
    /// database took it; returns how many rows went.
    private func drain<Row>(_ cursor: String, fetch: (Int64) throws -> [Row], id: (Row) -> Int64,
                            send: ([Row]) async throws -> Void) async throws -> Int {
        var sent = 0
        while true {
            try Task.checkCancellation()
            let rows = try fetch(Int64(try store.cursor(for: cursor) ?? "0") ?? 0)
            guard let last = rows.last else { return sent }
            try await send(rows)
            try store.setCursor(String(id(last)), for: cursor)
            sent += rows.count
        }
    }

    /// Rows are keyed by this host's local ids: a store that started over (a new file, or a second host under the same
    /// role) would count from 1 again and its rows would vanish into, or mix with, the old ones. Before this store first
    /// publishes, the database must hold nothing of this host's; the store then remembers that it passed (before any
    /// row goes, so a crash after the first batch cannot make it look like a stranger).
    private func refuseAStoreThatStartedOver(on connection: PostgresConnection) async throws {
        guard try store.cursor(for: Self.startedCursor) == nil else { return }
        // A store that published before this marker existed.
        let publishedBefore = try store.cursor(for: "fleet:event") != nil || store.cursor(for: "fleet:audit") != nil
        if !publishedBefore {
            let rows = try await connection.query("""
                SELECT (SELECT count(*) FROM event) + (SELECT count(*) FROM audit) + (SELECT count(*) FROM host)
                """, logger: logger)
            for try await count in rows.decode(Int64.self) where count > 0 {
                throw StartedOver(rows: Int(count))
            }
        }
        try store.setCursor(ISO8601DateFormatter().string(from: Date()), for: Self.startedCursor)
    }

    /// When this store first published (its rows are the fleet's rows of this host from then on).
    static let startedCursor = "fleet:started"

    struct StartedOver: Error, CustomStringConvertible {
        let rows: Int
        var description: String {
            "the fleet's database already holds \(rows) rows of this host, but this store has published nothing: it is a new store or a "
                + "second host under the same role; give it a role of its own (ai-sysadmin fleet role host ID), or remove the old rows"
        }
    }

    /// PostgreSQL's text refuses NUL, which a log file can hold (after a crash) and a model can write: one such row
    /// would stop every later one.
    static func clean(_ text: String) -> String {
        text.contains("\u{0}") ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }

    // MARK: Statements

    static func insert(_ events: [StoredEvent]) -> PostgresQuery {
        let ids = events.map(\.id), times = events.map { Date(timeIntervalSince1970: Double($0.timeMicroseconds) / 1_000_000) }
        let severities = events.map(\.severity.rawValue), categories = events.map(\.category.rawValue), escalates = events.map(\.escalate)
        let summaries = events.map { clean($0.summary) }, sources = events.map { clean($0.source) }, messages = events.map { clean($0.message) }
        let units = events.map { clean($0.unit ?? $0.identifier ?? "") }
        return """
            INSERT INTO event (local_id, time, severity, category, escalate, summary, source, message, unit)
            SELECT id, time, severity, category, escalate, summary, source, message, NULLIF(unit, '')
            FROM unnest(\(ids)::bigint[], \(times)::timestamptz[], \(severities)::text[], \(categories)::text[], \(escalates)::boolean[],
                        \(summaries)::text[], \(sources)::text[], \(messages)::text[], \(units)::text[])
                 AS row (id, time, severity, category, escalate, summary, source, message, unit)
            ON CONFLICT (host, local_id) DO NOTHING
            """
    }

    /// `value` as JSON that PostgreSQL's jsonb takes.
    static func document(_ value: some Encodable) -> String {
        jsonb(String(decoding: (try? JSONEncoder().encode(value)) ?? Data("{}".utf8), as: UTF8.self))
    }

    /// JSON text as jsonb takes it: it refuses the escaped NUL that JSON allows (a model server's last error can hold one).
    static func jsonb(_ json: String) -> String {
        clean(json).replacingOccurrences(of: "\\u0000", with: "\\ufffd")
    }

    /// Reviews or analyses (`table`) as (local id, time, JSON document).
    static func insertConclusions(_ table: StaticString, _ rows: [(id: Int64, time: Date, document: String)]) -> PostgresQuery {
        let ids = rows.map(\.id), times = rows.map(\.time), documents = rows.map(\.document)
        var query: PostgresQuery = """
            SELECT * FROM unnest(\(ids)::bigint[], \(times)::timestamptz[], \(documents)::jsonb[]) ON CONFLICT (host, local_id) DO NOTHING
            """
        query.sql = "INSERT INTO \(table) (local_id, time, document) " + query.sql
        return query
    }

    static func insert(_ lines: [AuditEntry]) -> PostgresQuery {
        let ids = lines.map(\.id), times = lines.map(\.time), proposals = lines.map(\.proposalID)
        let events = lines.map { clean($0.event) }, actors = lines.map { clean($0.actor) }, details = lines.map { clean($0.detail) }
        return """
            INSERT INTO audit (local_id, time, proposal_local_id, event, actor, detail)
            SELECT * FROM unnest(\(ids)::bigint[], \(times)::timestamptz[], \(proposals)::bigint[], \(events)::text[], \(actors)::text[],
                                 \(details)::text[])
            ON CONFLICT (host, local_id) DO NOTHING
            """
    }

    static func upsert(_ proposal: ProposalRecord) -> PostgresQuery {
        let parameters = document(proposal.parameters)
        let unit = proposal.unit.map(clean), action = proposal.action.map(clean), risk = proposal.risk.map(clean)
        let reason = proposal.reason.map(clean), decidedBy = proposal.decidedBy.map(clean), result = proposal.result.map(clean)
        return """
            INSERT INTO proposal (local_id, created_at, source, type, parameters, unit, rationale, action, risk, expected_effect, rollback,
                                  state, reason, result, decided_by, decided_at, expires_at)
            VALUES (\(proposal.id), \(proposal.createdAt), \(clean(proposal.source)), \(clean(proposal.type)), \(parameters)::jsonb, \(unit),
                    \(clean(proposal.rationale)), \(action), \(risk), \(clean(proposal.expectedEffect)), \(clean(proposal.rollback)),
                    \(proposal.state.rawValue), \(reason), \(result), \(decidedBy), \(proposal.decidedAt), \(proposal.expiresAt))
            ON CONFLICT (host, local_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, result = excluded.result,
                decided_by = excluded.decided_by, decided_at = excluded.decided_at, action = excluded.action, risk = excluded.risk
            """
    }
}

/// What the publisher last managed, for `ai-sysadmin status` and the logs: publishing, or away since when and why.
public final class FleetHealth: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var host: String
        public var lastPublished: Date?
        /// When the database stopped answering; nil while it answers.
        public var awaySince: Date?
        public var lastError: String?
        public var eventsPublished: Int
        public var auditLinesPublished: Int
    }

    private let state: Mutex<Snapshot>

    init(host: String) {
        state = Mutex(Snapshot(host: host, lastPublished: nil, awaySince: nil, lastError: nil, eventsPublished: 0, auditLinesPublished: 0))
    }

    public var current: Snapshot { state.withLock { $0 } }

    func published(events: Int, auditLines: Int) {
        state.withLock {
            $0.lastPublished = Date()
            $0.awaySince = nil
            $0.lastError = nil
            $0.eventsPublished += events
            $0.auditLinesPublished += auditLines
        }
    }

    /// Records a failure; true when it is the first since the database last answered (worth a warning).
    func failed(_ reason: String) -> Bool {
        state.withLock {
            let first = $0.awaySince == nil
            if first { $0.awaySince = Date() }
            $0.lastError = reason
            return first
        }
    }
}
