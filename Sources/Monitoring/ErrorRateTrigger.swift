import Foundation
import ModelSupervisor

/// Bursts of error lines per unit and for the whole host, against their own recent rate (the deterministic
/// "high error rate" trigger): an event when a series logs at least `minimumBurst` error lines within `window`
/// and `factor` times its usual number per window, then nothing more until the burst is over.
///
/// Time is the lines' own (their journal or syslog timestamps), so a backlog read after a restart, or a replay,
/// counts bursts as they happened; a line without a timestamp is not counted.
public struct ErrorRateTrigger: Sendable {
    /// Seconds.
    public let window: Double
    public let minimumBurst: Int
    public let factor: Double

    struct Series: Sendable {
        /// Times of the error lines within the sliding window, oldest first (bounded).
        var recent: [Double] = []
        /// Error lines per window, as an average over about an hour of windows.
        var baseline = 0.0
        /// Error lines in the window that began at `windowStart`, for the baseline.
        var current = 0
        var windowStart: Double
        var inBurst = false
        var lastSeen = 0.0
    }

    private var series: [String: Series] = [:]
    /// About an hour of one-minute windows.
    static let smoothing = 1.0 / 60
    static let maximumRecent = 100_000
    /// Series kept at most: identifiers come from log lines, and a hostile writer can invent any number of them.
    static let maximumSeries = 4096

    public init(window: Double = 60, minimumBurst: Int = 10, factor: Double = 5) {
        self.window = max(1, window)
        self.minimumBurst = max(1, minimumBurst)
        self.factor = max(1, factor)
    }

    /// As `monitoring.errorRate` configures it; nil when it is switched off.
    public init?(_ settings: MonitoringConfiguration.ErrorRate) {
        guard settings.enable else { return nil }
        self.init(window: settings.windowSeconds, minimumBurst: settings.minimumBurst, factor: settings.factor)
    }

    /// Counts one error line of its unit and of the host; returns the event of the burst it starts. A burst of one
    /// unit is that unit's event only: the host's series counts it too, but says nothing while the unit explains it.
    public mutating func observe(_ record: LogRecord) -> [TriggerEvent] {
        guard let microseconds = record.timestampMicroseconds else { return [] }
        let now = Double(microseconds) / 1_000_000
        var events: [TriggerEvent] = []
        var unitInBurst = false
        if let unit = record.unit ?? record.identifier {
            if let event = observe(key: unit, isHost: false, example: record, at: now, silently: false) { events.append(event) }
            unitInBurst = series[unit]?.inBurst ?? false
        }
        if let event = observe(key: Self.hostKey, isHost: true, example: record, at: now, silently: unitInBurst) { events.append(event) }
        return events
    }

    /// The host's series; no unit or identifier has a space.
    static let hostKey = "the host"

    private mutating func observe(key: String, isHost: Bool, example: LogRecord, at now: Double, silently: Bool) -> TriggerEvent? {
        var state = series[key] ?? Series(windowStart: now)
        // Windows that ended since the last line feed the baseline: the one that had lines, then the empty ones.
        var elapsed = 0
        while now - state.windowStart >= window, elapsed < 120 {
            state.baseline += Self.smoothing * (Double(state.current) - state.baseline)
            state.current = 0
            state.windowStart += window
            elapsed += 1
        }
        if now - state.windowStart >= window { state.windowStart = now }
        state.current += 1
        let cutoff = now - window
        if let firstKept = state.recent.firstIndex(where: { $0 > cutoff }) {
            state.recent.removeFirst(firstKept)
        } else {
            state.recent.removeAll(keepingCapacity: true)
        }
        if state.recent.count < Self.maximumRecent { state.recent.append(now) }
        state.lastSeen = now
        defer {
            series[key] = state
            if series.count > Self.maximumSeries { forgetQuietestHalf() }
        }

        let count = state.recent.count
        let threshold = max(Double(minimumBurst), factor * state.baseline)
        if state.inBurst {
            if Double(count) < max(Double(minimumBurst) / 2, 2 * state.baseline) { state.inBurst = false }
            return nil
        }
        guard Double(count) >= threshold else { return nil }
        state.inBurst = true
        guard !silently else { return nil }
        let seconds = Int(window)
        let who = isHost ? "this host" : key
        let usual = state.baseline < 0.1 ? "usually none" : "usually \(Self.format(state.baseline))"
        let message = "\(count) error lines from \(who) within \(seconds) s (\(usual)); the latest: \(example.message.prefix(200))"
        return TriggerEvent(record: LogRecord(message: message, unit: isHost ? nil : example.unit, identifier: isHost ? "ai-sysadmin" : example.identifier,
                                              timestampMicroseconds: example.timestampMicroseconds),
                            templateID: 0, severity: .error, category: isHost ? .other : .service, escalate: true,
                            summary: "a burst of errors from \(who)", source: .errorRate)
    }

    /// Drops the half of the series that logged an error longest ago (the host's is kept).
    private mutating func forgetQuietestHalf() {
        let byAge = series.filter { $0.key != Self.hostKey }.sorted { $0.value.lastSeen < $1.value.lastSeen }
        for (key, _) in byAge.prefix(byAge.count / 2) { series[key] = nil }
    }

    var seriesCount: Int { series.count }

    private static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
