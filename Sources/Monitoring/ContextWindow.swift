import Foundation
import SysadminConfiguration
import UpstreamClient

/// Layer 2, as far as the review needs it: what happened, compacted by rule (one line per template and
/// severity, with a count and the latest example) and cut to a token budget — newest kept, oldest dropped.
public struct ContextWindow: Sendable {
    public struct Entry: Sendable {
        public var templateID: Int
        public var severity: Severity
        public var summary: String
        public var example: String
        public var unit: String?
        public var count: Int
        public var lastMicroseconds: Int64
        /// What set the severity (a signature by id, the priority floor, a rule, the model, an error burst).
        public var source: TriggerEvent.Source
        /// Where its latest event stood among the events compacted: among equal times, the later is the newer.
        var sequence = 0

        public init(templateID: Int, severity: Severity, summary: String, example: String, unit: String?, count: Int, lastMicroseconds: Int64,
                    source: TriggerEvent.Source = .model) {
            self.source = source
            self.templateID = templateID
            self.severity = severity
            self.summary = summary
            self.example = example
            self.unit = unit
            self.count = count
            self.lastMicroseconds = lastMicroseconds
        }
    }

    /// Groups events by template, severity and what set it, newest group first.
    public static func compact(_ events: [TriggerEvent], at now: Int64) -> [Entry] {
        var groups: [String: Entry] = [:]
        for (sequence, event) in events.enumerated() {
            let key = "\(event.templateID)/\(event.severity.rawValue)/\(event.source)/\(event.templateID == 0 ? event.record.message : "")"
            let time = event.record.timestampMicroseconds ?? now
            if var entry = groups[key] {
                entry.count += 1
                if time >= entry.lastMicroseconds { (entry.example, entry.lastMicroseconds, entry.sequence) = (event.record.message, time, sequence) }
                groups[key] = entry
            } else {
                var entry = Entry(templateID: event.templateID, severity: event.severity, summary: event.summary, example: event.record.message,
                                  unit: event.record.unit ?? event.record.identifier, count: 1, lastMicroseconds: time, source: event.source)
                entry.sequence = sequence
                groups[key] = entry
            }
        }
        // Newest first; lines read in one go share a time, and then their order decides, not the dictionary's.
        return groups.values.sorted { ($0.lastMicroseconds, $0.sequence) > ($1.lastMicroseconds, $1.sequence) }
    }

    /// `3× [error, signature oom-killer] app.service: why it matters — e.g. "…"`: the review sees which signature,
    /// floor or burst set a severity, and why that matters, next to what the model thought.
    static func line(_ entry: Entry) -> String {
        let source = switch entry.source {
        case .signature(let id): "signature \(id)"
        case .priorityFloor: "journal priority"
        case .errorRate: "error burst"
        case .model, .rule, .metric: entry.source.rawValue
        }
        return "\(entry.count)× [\(entry.severity.rawValue), \(source)] \(entry.unit.map { "\($0): " } ?? "")\(entry.summary) — e.g. \"\(entry.example.prefix(200))\""
    }

    /// The entries' lines, newest first, as many as fit in `budget` tokens by `count` (the server's tokenizer,
    /// or an estimate): the whole text is counted once, and lines are dropped from the oldest end until it fits.
    public static func render(_ entries: [Entry], budget: Int, count: (String) async -> Int) async -> (text: String, tokens: Int, dropped: Int) {
        var lines = entries.map(line)
        var dropped = 0
        while true {
            let text = lines.isEmpty ? "(no events)" : lines.joined(separator: "\n")
            let tokens = await count(text)
            if tokens <= budget || lines.isEmpty { return (text, tokens, dropped) }
            // Drop the oldest lines in proportion to the overshoot, at least one.
            let remove = min(lines.count, max(1, lines.count * (tokens - budget) / max(tokens, 1)))
            lines.removeLast(remove)
            dropped += remove
        }
    }
}
