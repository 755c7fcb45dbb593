import Foundation
import ModelSupervisor
import Reasoning
import Store

/// Everything the console shows at one moment, as one JSON document: the same facts as `ai-sysadmin status`, the
/// host's metrics against their thresholds, failed units, recent events, the last review, analyses with their steps,
/// what waits for approval and the audit trail. Every string in it came from a log line, a model or a unit name: the
/// page renders it as text, never as markup. Who looks is not in it (``ConsoleRoutes`` says so apart), so one
/// snapshot serves every open page.
public struct ConsoleSnapshot: Codable, Sendable, Equatable {
    public struct Metric: Codable, Sendable, Equatable {
        /// As stored: `cpu`, `memory`, `swap`, `load_per_cpu`, `disk:/mount`.
        public var name: String
        /// The trigger's threshold (percent, or load per CPU).
        public var threshold: Double
        public var last: Double?
        /// Readings of the window, oldest first, at most ``ConsoleSnapshot/historyPoints``: [seconds since the epoch, value].
        public var history: [[Double]]
    }

    public struct HourOfEvents: Codable, Sendable, Equatable {
        /// The hour's start.
        public var hour: Date
        /// Events by severity (`info`, `warning`, `error`, `critical`).
        public var counts: [String: Int]
    }

    public struct LastReview: Codable, Sendable, Equatable {
        public var time: Date
        public var review: Review
    }

    public var host: String
    public var generatedAt: Date
    public var autonomyLevel: String
    public var status: SupervisorStatus
    public var metrics: [Metric]
    /// `nil` when systemd's manager cannot be asked here.
    public var failedUnits: [String]?
    /// The newest first.
    public var events: [StoredEvent]
    /// The last 24 hours, oldest first.
    public var eventsPerHour: [HourOfEvents]
    public var lastReview: LastReview?
    public var analyses: [StoredAnalysis]
    public var pendingApprovals: [ProposalRecord]
    /// The newest first.
    public var audit: [AuditEntry]

    public static let eventLimit = 50
    public static let analysisLimit = 5
    public static let auditLimit = 40
    public static let historyPoints = 120
    public static let historyWindow: TimeInterval = 6 * 3600

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
