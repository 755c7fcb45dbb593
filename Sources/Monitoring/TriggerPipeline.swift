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

/// Layer 1 for a stream of records: rules that need no model, template mining, and the trigger model's
/// verdict per template — asked once, for several new templates at a time, and reused for every later line of
/// the same template. Lines wait (bounded) until their template has a verdict, so nothing is judged twice or
/// skipped.
public struct TriggerPipeline: Sendable {
    public private(set) var statistics = TriggerStatistics()
    public private(set) var miner: TemplateMiner
    public private(set) var verdicts: [Int: Verdict]
    /// Templates the model could not classify, with the reason (they get rule-based events only).
    public private(set) var failures: [Int: String] = [:]
    private var waiting: [(record: LogRecord, templateID: Int)] = []
    private var unclassified: [Int] = []
    /// `nil`: rules and template mining only (`replay --rules-only`).
    let classifier: TriggerClassifier?
    /// New templates per model request.
    public let batchSize: Int
    static let maximumWaiting = 4096

    /// Checked before the model's verdict; the first that matches decides.
    let rules: [OperatorRule]

    public init(classifier: TriggerClassifier?, miner: TemplateMiner = TemplateMiner(), verdicts: [Int: Verdict] = [:], batchSize: Int = 8,
                rules: [OperatorRule] = []) {
        self.classifier = classifier
        self.rules = rules
        self.miner = miner
        self.verdicts = verdicts
        self.batchSize = batchSize
    }

    /// Takes one record; returns the events it (and lines waiting before it) produced. Asks the model when
    /// `batchSize` new templates are waiting.
    public mutating func process(_ record: LogRecord) async -> [TriggerEvent] {
        statistics.lines += 1
        let match = miner.add(record.message)
        if match.isNew {
            statistics.templates += 1
            unclassified.append(match.id)
        } else {
            // Judged by its template's verdict, asked for once (or being asked for now).
            statistics.cacheHits += 1
        }
        if verdicts[match.id] != nil || failures[match.id] != nil || classifier == nil {
            return decide(record, match.id).map { [$0] } ?? []
        }
        waiting.append((record, match.id))
        // A full batch, or many lines held for few templates (a burst of one new kind): ask now.
        if unclassified.count >= batchSize || waiting.count >= Self.maximumWaiting { return await flush() }
        return []
    }

    /// Lines wait for a verdict: their source position must not be stored as done yet.
    public var hasWaiting: Bool { !waiting.isEmpty }

    /// Decides the waiting lines by the rules alone, keeping their templates queued for a later `flush`:
    /// for when the trigger model is not there and lines cannot wait any longer.
    public mutating func decideWithoutModel() -> [TriggerEvent] {
        let lines = waiting
        waiting.removeAll()
        return lines.compactMap { decide($0.record, $0.templateID) }
    }

    /// Classifies whatever templates are waiting and decides their lines: at the end of a replay, and in the
    /// daemon when the source has been quiet for a moment.
    public mutating func flush() async -> [TriggerEvent] {
        if let classifier, !unclassified.isEmpty {
            let batch = unclassified.compactMap { id in miner[id].map { (key: id, text: $0.text) } }
            unclassified.removeAll()
            let (results, calls) = await classifier.classify(batch)
            statistics.modelCalls += calls
            for (id, result) in results {
                switch result {
                case .success(let verdict): verdicts[id] = verdict
                case .failure(let failure):
                    failures[id] = failure.reason
                    statistics.classificationFailures += 1
                }
            }
        }
        unclassified.removeAll()
        let lines = waiting
        waiting.removeAll()
        return lines.compactMap { decide($0.record, $0.templateID) }
    }

    /// The event for one line, if it deserves one. Journal priorities 0–2 (emerg, alert, crit) are critical
    /// whatever the model thinks: a log line must not be able to talk its way below that floor. Then the
    /// operator's rules, then the model's verdict.
    private mutating func decide(_ record: LogRecord, _ templateID: Int) -> TriggerEvent? {
        let verdict = verdicts[templateID]
        var event: TriggerEvent?
        if let priority = record.priority, priority <= 2 {
            event = TriggerEvent(record: record, templateID: templateID, severity: .critical,
                                 category: verdict?.category ?? .other, escalate: true,
                                 summary: verdict?.summary ?? "journal priority \(priority)", source: .rule)
        } else if let rule = rules.first(where: { $0.matches(record.message) }) {
            let ruled = rule.verdict
            event = ruled.severity >= .warning || ruled.escalate
                ? TriggerEvent(record: record, templateID: templateID, severity: ruled.severity, category: ruled.category,
                               escalate: ruled.escalate || ruled.severity == .critical, summary: ruled.summary, source: .rule)
                : nil
        } else if let verdict, verdict.severity >= .warning || verdict.escalate {
            event = TriggerEvent(record: record, templateID: templateID, severity: verdict.severity, category: verdict.category,
                                 escalate: verdict.escalate || verdict.severity == .critical, summary: verdict.summary, source: .model)
        }
        if let event {
            statistics.events += 1
            if event.escalate { statistics.escalations += 1 }
        }
        return event
    }
}
