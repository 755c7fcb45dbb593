import Foundation
import ModelSupervisor
import Monitoring
import Store
import SysadminConfiguration
import Systemd

/// Reads a ``ConsoleSnapshot`` from the daemon's store, its supervisor and systemd.
public struct ConsoleSnapshotSource: Sendable {
    let configuration: DaemonConfiguration
    let store: any MonitoringStore & ActionLedger
    let systemd: (any SystemdManaging)?
    let status: @Sendable () -> SupervisorStatus
    let hostname: String

    public init(configuration: DaemonConfiguration, store: any MonitoringStore & ActionLedger, systemd: (any SystemdManaging)?,
                status: @escaping @Sendable () -> SupervisorStatus) {
        self.configuration = configuration
        self.store = store
        self.systemd = systemd
        self.status = status
        self.hostname = LogText.clean(ProcessInfo.processInfo.hostName, limit: 64)
    }

    public func snapshot(at now: Date = Date()) async throws -> ConsoleSnapshot {
        let failedUnits: [String]?
        if let systemd { failedUnits = try? await systemd.failedUnits().sorted() } else { failedUnits = nil }
        return ConsoleSnapshot(
            host: hostname, generatedAt: now, autonomyLevel: configuration.autonomyLevel.rawValue,
            status: status(), metrics: try metrics(since: now.addingTimeInterval(-ConsoleSnapshot.historyWindow)),
            failedUnits: failedUnits,
            events: try store.latestEvents(limit: ConsoleSnapshot.eventLimit),
            eventsPerHour: Self.perHour(try store.eventCountsPerHour(since: now.addingTimeInterval(-24 * 3600)), endingAt: now),
            lastReview: try store.reviews(limit: 1).first.map { ConsoleSnapshot.LastReview(time: $0.time, review: $0.review) },
            analyses: try store.analyses(limit: ConsoleSnapshot.analysisLimit),
            pendingApprovals: try store.proposals(in: [.queued], limit: 100),
            audit: try store.latestAudit(limit: ConsoleSnapshot.auditLimit))
    }

    /// A few cheap reads that change whenever what the console shows changes (a new event, review, analysis,
    /// proposal or audit line, a metric reading, a server's state), so a full snapshot is built only then.
    func changeProbe(at now: Date = Date()) throws -> Int {
        var hasher = Hasher()
        let status = status()
        hasher.combine(status.models.map { "\($0.layer) \($0.state) \($0.restarts) \($0.lastError ?? "")" })
        hasher.combine(status.gateway.map { "\($0.state) \($0.restarts) \($0.lastError ?? "")" })
        hasher.combine(status.monitoring.map { "\($0.templatesWaiting) \($0.linesHeld) \($0.provisionalLines) \($0.triggerModel)" })
        hasher.combine(try store.latestEvents(limit: 1).first?.id)
        hasher.combine(try store.latestAudit(limit: 1).first?.id)
        hasher.combine(try store.proposals(in: nil, limit: 1).first?.id)
        hasher.combine(try store.reviews(limit: 1).first?.time)
        hasher.combine(try store.metricHistory("cpu", since: now.addingTimeInterval(-3600)).last?.time)
        return hasher.finalize()
    }

    /// Every metric read in the window with its threshold, thinned to at most ``ConsoleSnapshot/historyPoints``.
    func metrics(since: Date) throws -> [ConsoleSnapshot.Metric] {
        let thresholds = configuration.monitoring.metrics
        func threshold(_ name: String) -> Double {
            switch name {
            case "cpu": thresholds.cpuPercent
            case "memory": thresholds.memoryPercent
            case "swap": thresholds.swapPercent
            case "load_per_cpu": thresholds.loadPerCPU
            default: thresholds.diskPercent
            }
        }
        let order = ["cpu", "memory", "swap", "load_per_cpu"]
        let names = try store.metricNames(since: since).sorted { (order.firstIndex(of: $0) ?? 9, $0) < (order.firstIndex(of: $1) ?? 9, $1) }
        return try names.map { name in
            let readings = try store.metricHistory(name, since: since)
            let stride = max(1, (readings.count + ConsoleSnapshot.historyPoints - 1) / ConsoleSnapshot.historyPoints)
            var history = Swift.stride(from: 0, to: readings.count, by: stride).map { [readings[$0].time.timeIntervalSince1970, readings[$0].value] }
            if let last = readings.last, history.last?.first != last.time.timeIntervalSince1970 {
                history.append([last.time.timeIntervalSince1970, last.value])
            }
            return ConsoleSnapshot.Metric(name: name, threshold: threshold(name), last: readings.last?.value, history: history)
        }
    }

    /// The 24 hours up to `end`, oldest first, each with its events counted by severity (normal lines are not events
    /// worth a bar).
    static func perHour(_ counts: [Int64: [Severity: Int]], endingAt end: Date) -> [ConsoleSnapshot.HourOfEvents] {
        let lastHour = Int64(end.timeIntervalSince1970 / 3600) * 3600
        return (0..<24).map { index in
            let hour = lastHour - Int64(23 - index) * 3600
            var counted: [String: Int] = [:]
            for (severity, count) in counts[hour] ?? [:] where severity != .normal { counted[severity.rawValue] = count }
            return ConsoleSnapshot.HourOfEvents(hour: Date(timeIntervalSince1970: Double(hour)), counts: counted)
        }
    }
}
