import Foundation
import Monitoring
import Store

/// Layer 2 as the reading layers get it: the events stored since a time, compacted by rule and cut to a token
/// budget (newest kept). Shared by the review and the analysis.
enum RecentContext {
    static func render(_ store: any MonitoringStore, since: Date, budget: Int, count: @Sendable (String) async -> Int) async -> String {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let events = ((try? store.events(since: since, limit: 20_000)) ?? []).map { stored in
            TriggerEvent(record: LogRecord(message: stored.message, unit: stored.unit, identifier: stored.identifier,
                                           timestampMicroseconds: stored.timeMicroseconds),
                         templateID: stored.templateID, severity: stored.severity, category: stored.category,
                         escalate: stored.escalate, summary: stored.summary, source: stored.source == "rule" ? .rule : .model)
        }
        return await ContextWindow.render(ContextWindow.compact(events, at: now), budget: budget, count: count).text
    }
}
