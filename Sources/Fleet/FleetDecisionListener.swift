import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SysadminConfiguration

/// Takes the fleet's decisions on this host's proposals into its own ledger, as soon as an operator makes them.
///
/// It keeps one connection to the fleet's database and LISTENs on the host's own channel; each notification (and a
/// look every ``recheck``, which also proves the connection alive) reads every decision not yet applied, oldest first,
/// hands each to `apply` — the host's own decision path, which validates an approval again against this host's policy
/// and protected units — and records the outcome in the decision's row. The row, not a cursor, says what is done: a
/// decision committed out of order is not skipped, and one applied just before a crash is applied again harmlessly
/// (the ledger's change is conditional: it answers "already approved"). Only this host's rows are visible to its role.
public actor FleetDecisionListener: Service {
    /// Applies `decision` to this host's ledger and says what came of it.
    public typealias Apply = @Sendable (FleetDecision) async throws -> String

    let connection: PostgresConnection.Configuration
    let host: String
    let apply: Apply
    let applied: @Sendable () -> Void
    let logger: Logger
    private var away = false

    /// How often the listener reads its decisions without being told: a backstop, and the check that a quiet
    /// connection is still there.
    static let recheck = Duration.seconds(30)
    static let reconnectDelay = Duration.seconds(2)
    static let shortestGap = Duration.milliseconds(200)
    /// The longest a read or a write-back may take before the connection counts as gone.
    static let answerDeadline = Duration.seconds(15)

    /// - Parameter applied: called after decisions were applied (the publisher then sends the new states at once).
    public init(configuration: PostgreSQLConfiguration, logger: Logger, apply: @escaping Apply,
                applied: @escaping @Sendable () -> Void = {}) throws(ConfigurationError) {
        self.connection = try FleetConnection.configuration(configuration, passwordKey: "store.postgresql.passwordFile")
        self.host = configuration.hostID ?? self.connection.username
        self.apply = apply
        self.applied = applied
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.listen()
                } catch {
                    if Task.isCancelled { return }
                    await self.lost(error)
                }
                try? await Task.sleep(for: Self.reconnectDelay)
            }
        }
    }

    private func lost(_ error: any Error) {
        guard !away else { return }
        away = true
        logger.warning("cannot hear the fleet's decisions; trying again", metadata: ["ai.error": "\(FleetConnection.describe(error))"])
    }

    /// One connection's life: listen, catch up, then catch up on every notification or tick until it fails.
    private func listen() async throws {
        try await FleetConnection.with(connection, id: 1, logger: logger) { connection in
            try await self.listen(on: connection)
        }
    }

    private func listen(on connection: PostgresConnection) async throws {
        try await FleetSchema.requireCurrentVersion(on: connection, logger: logger)
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        try await connection.listen(on: FleetSchema.decisionChannel(forHost: host)) { notifications in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await _ in notifications { wake.yield() }
                    throw ConnectionEnded()
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: Self.recheck)
                        wake.yield()
                    }
                }
                // Decisions made while this host was not listening come first; the LISTEN is already in place.
                wake.yield()
                group.addTask {
                    for await _ in wakeups {
                        try await self.catchUp(on: connection)
                        // Any session may NOTIFY this channel: a flood costs one look five times a second, no more.
                        try await Task.sleep(for: Self.shortestGap)
                    }
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        }
    }

    /// Applies every decision not yet applied, oldest first, and records each outcome.
    func catchUp(on connection: PostgresConnection) async throws {
        let decisions = try await withTimeout(Self.answerDeadline) { [logger] in
            try await FleetDecision.read(on: connection, where: "applied_at IS NULL ORDER BY id", logger: logger)
        }
        if away {
            away = false
            logger.info("hearing the fleet's decisions again")
        }
        guard !decisions.isEmpty else { return }
        var taken = 0
        for decision in decisions {
            let outcome: String
            do {
                outcome = try await apply(decision)
            } catch {
                // This host's ledger, not the database: the decision stays unapplied and is tried again at the next look.
                logger.error("could not take the fleet's decision into this host's ledger; it is tried again", metadata: [
                    "ai.proposal": "\(decision.proposalID)", "ai.error": "\(error)",
                ])
                continue
            }
            taken += 1
            logger.notice("applied the fleet's decision", metadata: [
                "ai.proposal": "\(decision.proposalID)", "ai.decision": "\(decision.verdict.rawValue)", "ai.actor": "\(decision.actor)",
                "ai.outcome": "\(outcome)",
            ])
            let recorded = FleetPublisher.clean(outcome)
            try await withTimeout(Self.answerDeadline) { [logger] in
                _ = try await connection.query("UPDATE decision SET applied_at = now(), outcome = \(recorded) WHERE id = \(decision.id)", logger: logger)
            }
        }
        if taken > 0 { applied() }
    }

    struct ConnectionEnded: Error, CustomStringConvertible {
        var description: String { "the database ended the connection" }
    }
}
