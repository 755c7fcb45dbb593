import Foundation

/// A line that matters: its record, its template, and what was decided about it and by whom.
public struct TriggerEvent: Sendable, Equatable {
    public enum Source: String, Sendable { case model, rule }

    public let record: LogRecord
    public let templateID: Int
    public let severity: Severity
    public let category: Category
    public let escalate: Bool
    public let summary: String
    public let source: Source

    public init(record: LogRecord, templateID: Int, severity: Severity, category: Category, escalate: Bool, summary: String,
                source: Source) {
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
    public var cacheHits = 0
    public var events = 0
    public var escalations = 0
    public var classificationFailures = 0
}

