import Foundation
import Monitoring
import Reasoning
import Store

/// Layer 2 as the reading layers get it: what the system concluded and did lately (the last review, the last
/// analysis, recent proposals and their fates) and the events stored since a time, compacted by rule and cut to
/// a token budget (newest kept). Everything comes from the store, so a restart keeps the window.
public enum RecentContext {
    /// The window the daemon's layers read: the store's conclusions and its events since `since`.
    public static func render(_ store: any MonitoringStore, since: Date, budget: Int, count: @Sendable (String) async -> Int) async -> String {
        await render(conclusions: conclusionLines(store), events: events(store, since: since), budget: budget, count: count).text
    }

    /// The window from its parts (a replay has its own events and no earlier conclusions), with the tokens it takes
    /// and how many compacted lines did not fit.
    public static func render(conclusions: [String], events: [TriggerEvent], budget: Int,
                              count: @Sendable (String) async -> Int) async -> (text: String, tokens: Int, dropped: Int) {
        var remaining = budget
        var header = ""
        if !conclusions.isEmpty {
            header = "Earlier conclusions and actions:\n" + conclusions.joined(separator: "\n") + "\n\nEvents:\n"
            remaining = max(budget / 4, budget - (await count(header)))
        }
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let window = await ContextWindow.render(ContextWindow.compact(events, at: now), budget: remaining, count: count)
        return (header + window.text, budget - remaining + window.tokens, window.dropped)
    }

    /// The events stored since `since`, as Layer 1 emitted them.
    public static func events(_ store: any EventStore, since: Date) -> [TriggerEvent] {
        ((try? store.events(since: since, limit: 20_000)) ?? []).map { stored in
            TriggerEvent(record: LogRecord(message: stored.message, unit: stored.unit, identifier: stored.identifier,
                                           timestampMicroseconds: stored.timeMicroseconds),
                         templateID: stored.templateID, severity: stored.severity, category: stored.category,
                         escalate: stored.escalate, summary: stored.summary, source: TriggerEvent.Source(rawValue: stored.source) ?? .model)
        }
    }

    /// One line each, by rule: the latest review, the latest analysis, the five latest proposals.
    public static func conclusionLines(_ store: any ConclusionStore) -> [String] {
        let formatter = ISO8601DateFormatter()
        var lines: [String] = []
        if let (time, review) = (try? store.reviews(limit: 1))?.first {
            lines.append("\(formatter.string(from: time)) review: \(review.status.rawValue): \(review.summary)")
        }
        if let analysis = (try? store.analyses(limit: 1))?.first {
            let outcome = analysis.analysis.map { "\($0.diagnosis) (\($0.confidence.rawValue) confidence)" } ?? "failed: \(analysis.failure ?? "")"
            lines.append("\(formatter.string(from: analysis.time)) analysis: \(outcome)")
        }
        if let ledger = store as? any ActionLedger {
            for proposal in (try? ledger.proposals(in: nil, limit: 5)) ?? [] {
                let target = proposal.parameters.keyValueText
                lines.append("\(formatter.string(from: proposal.createdAt)) action \(proposal.type) \(target): \(proposal.state.rawValue)"
                             + (proposal.reason.map { " (\($0.prefix(120)))" } ?? ""))
            }
        }
        return lines
    }
}
