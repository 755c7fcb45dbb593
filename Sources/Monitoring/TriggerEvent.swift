import Foundation

/// A line that matters: its record, its template, and what was decided about it and by whom.
public struct TriggerEvent: Sendable, Equatable {
    /// What set the event's severity, as `ai-sysadmin events` and the review show it.
    public enum Source: Sendable, Equatable, RawRepresentable, CustomStringConvertible {
        /// The trigger model's verdict for the line's template.
        case model
        /// An operator rule (`monitoring.rules`).
        case rule
        /// Journal priority 0–2: critical whatever the model says.
        case priorityFloor
        /// A built-in signature (its id): a floor the model cannot lower.
        case signature(String)
        /// A burst of error lines (`monitoring.errorRate`).
        case errorRate
        /// Host metrics and failed units.
        case metric

        public init?(rawValue: String) {
            switch rawValue {
            case "model": self = .model
            case "rule": self = .rule
            case "priority": self = .priorityFloor
            case "error-rate": self = .errorRate
            case "metric": self = .metric
            case let text where text.hasPrefix("signature:") && text.count > 10: self = .signature(String(text.dropFirst(10)))
            default: return nil
            }
        }

        public var rawValue: String {
            switch self {
            case .model: "model"
            case .rule: "rule"
            case .priorityFloor: "priority"
            case .signature(let id): "signature:\(id)"
            case .errorRate: "error-rate"
            case .metric: "metric"
            }
        }

        public var description: String { rawValue }
    }

    public let record: LogRecord
    public let templateID: Int
    public let severity: Severity
    public let category: Category
    public let escalate: Bool
    public let summary: String
    public let source: Source
    /// Where its line was read (the source's position after it), for a line; nil for metric and burst events.
    public let position: String?

    public init(record: LogRecord, templateID: Int, severity: Severity, category: Category, escalate: Bool, summary: String,
                source: Source, position: String? = nil) {
        self.position = position
        self.record = record
        self.templateID = templateID
        self.severity = severity
        self.category = category
        self.escalate = escalate
        self.summary = summary
        self.source = source
    }
}

/// Counts a run reports (`ai-sysadmin replay` prints them).
public struct TriggerStatistics: Sendable, Equatable, Codable {
    public var lines = 0
    public var templates = 0
    public var modelCalls = 0
    /// Verdicts other hosts learned, used instead of asking the model (a fleet's shared verdicts).
    public var sharedVerdicts = 0
    public var cacheHits = 0
    public var events = 0
    public var escalations = 0
    public var classificationFailures = 0
}

