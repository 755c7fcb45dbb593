import Foundation
import Logging
import Monitoring
import PostgresNIO
import SysadminConfiguration

/// The fleet's shared verdicts for Layer 1: what any host's trigger model said of a template, for every host with
/// the same model and prompt (`model`), valid as long as this host's own verdicts are.
///
/// A cache in front of the model, never in its way: each look-up and each share has a short deadline, and after a
/// failure the database is left alone for ``pause`` (the templates then go to this host's model, as on a host alone).
public actor FleetVerdicts: SharedVerdicts {
    let connection: PostgresConnection.Configuration
    let model: String
    let validDays: Double
    let logger: Logger
    private var awayUntil: ContinuousClock.Instant?
    private var nextConnectionID = 0

    static let deadline = Duration.seconds(3)
    static let pause = Duration.seconds(30)
    /// Template texts per statement; longer texts are not shared (they are the odd ones out, not the fleet's common lines).
    static let batch = 200, longestTemplate = 2000

    /// - Parameters:
    ///   - model: what makes two hosts' verdicts comparable: the trigger model and the classifier's prompt.
    ///   - validDays: how long a verdict is trusted (`monitoring.verdictDays`).
    public init(configuration: PostgreSQLConfiguration, model: String, validDays: Double, logger: Logger) throws(ConfigurationError) {
        self.connection = try FleetConnection.configuration(configuration, passwordKey: "store.postgresql.passwordFile")
        self.model = model
        self.validDays = validDays
        self.logger = logger
    }

    /// What makes two hosts' verdicts comparable: the trigger model's file name (a remote server's URL and model
    /// name), and the classifier's prompt version.
    public static func modelIdentity(of server: ModelServerConfiguration) -> String {
        let model = server.backend == .remote ? "\(server.url ?? "")#\(server.model)" : URL(fileURLWithPath: server.model).lastPathComponent
        return "\(model)|trigger prompt \(TriggerClassifier.promptVersion)"
    }

    public func verdicts(for templates: [String]) async -> [String: Verdict] {
        // A text PostgreSQL cannot hold as it is (NUL) is not shared: its key would not be the template's.
        let texts = Array(Set(templates.filter(Self.isShareable)).prefix(Self.batch))
        guard !texts.isEmpty else { return [:] }
        let (model, days, logger) = (self.model, validDays, self.logger)
        return await attempt("read the fleet's verdicts") { connection in
            let rows = try await connection.query("""
                SELECT template, severity, category, escalate, summary FROM verdict
                WHERE model = \(model) AND template = ANY(\(texts)::text[]) AND learned_at > now() - make_interval(secs => \(days * 86_400))
                """, logger: logger)
            var found: [String: Verdict] = [:]
            for try await (template, severity, category, escalate, summary) in rows.decode((String, String, String, Bool, String).self) {
                // Another host's words: a value this version does not know is dropped, the rest validated by the caller.
                guard let severity = Severity(rawValue: severity), let category = Category(rawValue: category) else { continue }
                found[template] = Verdict(severity: severity, category: category, escalate: escalate, summary: summary)
            }
            return found
        } ?? [:]
    }

    public func share(_ verdicts: [String: Verdict]) async {
        let shared = verdicts.filter { Self.isShareable($0.key) }.sorted { $0.key < $1.key }.prefix(Self.batch)
        guard !shared.isEmpty else { return }
        let templates = shared.map(\.key), severities = shared.map(\.value.severity.rawValue)
        let categories = shared.map(\.value.category.rawValue), escalates = shared.map(\.value.escalate)
        let summaries = shared.map { FleetPublisher.clean($0.value.summary) }
        let (model, logger) = (self.model, self.logger)
        _ = await attempt("share this host's verdicts") { connection in
            // A new verdict goes in; another host's older than a week is replaced (the policy leaves the rest alone).
            try await connection.query("""
                INSERT INTO verdict (model, template, severity, category, escalate, summary)
                SELECT \(model), * FROM unnest(\(templates)::text[], \(severities)::text[], \(categories)::text[], \(escalates)::boolean[],
                                               \(summaries)::text[])
                ON CONFLICT (model, template) DO NOTHING
                """, logger: logger)
            try await connection.query("""
                UPDATE verdict SET severity = new.severity, category = new.category, escalate = new.escalate, summary = new.summary,
                                   learned_by = ais_session_host(), learned_at = now()
                FROM unnest(\(templates)::text[], \(severities)::text[], \(categories)::text[], \(escalates)::boolean[], \(summaries)::text[])
                     AS new (template, severity, category, escalate, summary)
                WHERE verdict.model = \(model) AND verdict.template = new.template
                  AND verdict.learned_at < now() - interval '\(unescaped: "\(FleetSchema.verdictRenewalDays) days")'
                  AND verdict.learned_by <> ais_session_host()
                """, logger: logger)
            return true
        }
    }

    static func isShareable(_ template: String) -> Bool {
        template.utf8.count <= longestTemplate && !template.contains("\u{0}")
    }

    /// `work` on a connection of its own within ``deadline``; nil (and a pause) when the database does not answer.
    private func attempt<T: Sendable>(_ what: String, _ work: @escaping @Sendable (PostgresConnection) async throws -> T) async -> T? {
        if let awayUntil, ContinuousClock.now < awayUntil { return nil }
        nextConnectionID += 1
        let (configuration, id, logger) = (connection, nextConnectionID, self.logger)
        do {
            let result = try await withTimeout(Self.deadline) {
                try await FleetConnection.with(configuration, id: id, logger: logger, work)
            }
            awayUntil = nil
            return result
        } catch {
            if Task.isCancelled { return nil }
            if awayUntil == nil { logger.notice("could not \(what); asking this host's model meanwhile", metadata: ["ai.error": "\(FleetConnection.describe(error))"]) }
            awayUntil = .now + Self.pause
            return nil
        }
    }
}
