import Foundation

/// How Layer 1's judgment of a log compares with its labels, at line and at template level: what `ai-sysadmin
/// eval` reports. Fed one entry at a time, in the log's order.
public struct JudgmentScore: Sendable, Encodable {
    /// A share, with what it is a share of.
    public struct Rate: Sendable, Encodable, CustomStringConvertible {
        public var count = 0
        public var of = 0
        /// nil when there is nothing to share (`of` is 0).
        public var value: Double? { of == 0 ? nil : Double(count) / Double(of) }

        public var description: String {
            guard let value else { return "n/a (none)" }
            return String(format: "%.1f%% (%d of %d)", value * 100, count, of)
        }

        enum CodingKeys: String, CodingKey { case count, of, value }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(count, forKey: .count)
            try c.encode(of, forKey: .of)
            try c.encode(value, forKey: .value)
        }
    }

    /// Recall, precision and false-positive rate over lines or over templates.
    public struct Figures: Sendable, Encodable {
        /// Incidents that got an event.
        public var recall = Rate()
        /// Incidents that got an event of at least their labelled severity.
        public var severityRecall = Rate()
        /// Events (lines or templates with one) that were incidents.
        public var precision = Rate()
        /// Normal lines or templates that got an event.
        public var falsePositiveRate = Rate()
    }

    /// One entry judged differently from its label.
    public struct Mistake: Sendable, Encodable {
        public enum Kind: String, Sendable, Encodable {
            /// An incident without an event.
            case missed
            /// An incident whose event is below its labelled severity.
            case tooLow = "too-low"
            /// A normal line with an event.
            case falseAlarm = "false-alarm"
        }
        public let kind: Kind
        public let line: Int
        public let label: String
        /// The event's severity and what set it, when there was one.
        public let got: String?
        public let message: String
    }

    public private(set) var entries = 0
    public private(set) var lines = Figures()
    public private(set) var templates = Figures()
    /// Events by what set their severity (a signature by id, a rule, the priority floor, the model).
    public private(set) var eventsBySource: [String: Int] = [:]
    /// Error-rate events: about bursts, not lines, so outside the figures.
    public private(set) var burstEvents = 0
    /// The first `keepMistakes` mistakes, in the log's order.
    public private(set) var mistakes: [Mistake] = []
    public private(set) var mistakeCount = 0

    let keepMistakes: Int
    private var templateStates: [Int: TemplateState] = [:]

    struct TemplateState: Sendable {
        var hasIncident = false
        var incidentFlagged = false
        var severityMet = false
        var anyIncidentBelow = false
        var flagged = false
    }

    public init(keepMistakes: Int = 20) {
        self.keepMistakes = keepMistakes
    }

    /// One burst event (error rate): counted apart.
    public mutating func recordBurst() {
        burstEvents += 1
        eventsBySource[TriggerEvent.Source.errorRate.rawValue, default: 0] += 1
    }

    /// What Layer 1 raised for an entry: all the score needs of its event.
    public struct Flag: Sendable, Equatable {
        public let severity: Severity
        public let source: TriggerEvent.Source

        public init(severity: Severity, source: TriggerEvent.Source) {
            self.severity = severity
            self.source = source
        }

        public init(_ event: TriggerEvent) {
            self.init(severity: event.severity, source: event.source)
        }
    }

    /// One log entry: its number (what labels refer to), its template, its message, what its label expects and
    /// what Layer 1 raised for it, if anything.
    public mutating func record(line: Int, templateID: Int, message: String, expected: ExpectedJudgment, event: Flag?) {
        entries += 1
        if let event { eventsBySource[event.source.rawValue, default: 0] += 1 }
        var template = templateStates[templateID] ?? TemplateState()
        defer { templateStates[templateID] = template }
        let flagged = event != nil
        template.flagged = template.flagged || flagged
        if flagged { lines.precision.of += 1 }
        switch expected {
        case .normal:
            lines.falsePositiveRate.of += 1
            if let event {
                lines.falsePositiveRate.count += 1
                remember(.falseAlarm, line, expected, event, message)
            }
        case .alert, .atLeast:
            template.hasIncident = true
            lines.recall.of += 1
            lines.severityRecall.of += 1
            guard let event else {
                template.anyIncidentBelow = true
                remember(.missed, line, expected, nil, message)
                return
            }
            lines.recall.count += 1
            lines.precision.count += 1
            template.incidentFlagged = true
            if case .atLeast(let minimum) = expected, event.severity < minimum {
                template.anyIncidentBelow = true
                remember(.tooLow, line, expected, event, message)
            } else {
                lines.severityRecall.count += 1
            }
        }
    }

    /// The template-level figures, once every entry is recorded: a template is an incident when any of its lines is,
    /// found when any of those got an event, and met in severity when all of them got enough.
    public mutating func finish() {
        templates = Figures()
        for state in templateStates.values {
            if state.flagged { templates.precision.of += 1 }
            if state.hasIncident {
                templates.recall.of += 1
                templates.severityRecall.of += 1
                if state.incidentFlagged { templates.recall.count += 1 }
                if !state.anyIncidentBelow { templates.severityRecall.count += 1 }
                if state.flagged { templates.precision.count += 1 }
            } else {
                templates.falsePositiveRate.of += 1
                if state.flagged { templates.falsePositiveRate.count += 1 }
            }
        }
    }

    private mutating func remember(_ kind: Mistake.Kind, _ line: Int, _ expected: ExpectedJudgment, _ event: Flag?, _ message: String) {
        mistakeCount += 1
        guard mistakes.count < keepMistakes else { return }
        mistakes.append(Mistake(kind: kind, line: line, label: expected.description, got: event.map { "\($0.severity.rawValue) by \($0.source)" },
                                message: LogText.clean(message, limit: 200)))
    }

    enum CodingKeys: String, CodingKey { case entries, lines, templates, eventsBySource, burstEvents, mistakes, mistakeCount }
}
