import Foundation
import SysadminConfiguration

/// Bursts of error lines per unit and for the whole host, against their own recent rate (the deterministic
/// "high error rate" trigger): an event when a series logs at least `minimumBurst` error lines within `window`
/// and `factor` times its usual number per window, then nothing more until the burst is over.
///
/// Time is the lines' own (their journal or syslog timestamps), so a backlog read after a restart, or a replay,
/// counts bursts as they happened; a line without a timestamp is not counted. A series whose time jumps (a clock
/// stepped back, a stamp from the future) starts its window again rather than trusting either side.
public struct ErrorRateTrigger: Sendable {
    /// Seconds.
    public let window: Double
    public let minimumBurst: Int
    public let factor: Double

    struct Series: Sendable {
        /// Error lines per second within the sliding window, oldest first: `(second, count)` from `head` on.
        var buckets: [(second: Int64, count: Int)] = []
        var head = 0
        /// Lines in the buckets from `head` on.
        var inWindow = 0
        /// Error lines per window, smoothed over about `baselineWindows` windows.
        var baseline = 0.0
        /// Error lines in the window that began at `windowStart`, for the baseline.
        var current = 0
        var windowStart: Double
        var inBurst = false
        var lastSeen: Double

        init(at now: Double) {
            windowStart = now
            lastSeen = now
        }

        mutating func restart(at now: Double) {
            buckets.removeAll(keepingCapacity: true)
            (head, inWindow, current, windowStart, inBurst) = (0, 0, 0, now, false)
        }
    }

    private var units: [String: Series] = [:]
    private var host: Series?
    /// The baseline is an average over about this many windows (an hour of one-minute windows).
    static let baselineWindows = 60.0
    /// Quiet windows folded into the baseline one by one, at most; a longer silence just starts a fresh window.
    static let catchUpWindows = 120
    /// A line this much later, or any earlier than the window, than its series' last is a jump in time, not a burst.
    static let maximumJump = 86_400.0
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
            var series = units[unit] ?? Series(at: now)
            if count(&series, at: now) { events.append(event(series, who: LogText.clean(unit, limit: 64), isHost: false, example: record)) }
            unitInBurst = series.inBurst
            units[unit] = series
            if units.count > Self.maximumSeries { forgetQuietestHalf() }
        }
        var hostSeries = host ?? Series(at: now)
        // The host's burst is only news when no single unit's burst explains it.
        if count(&hostSeries, at: now), !unitInBurst {
            events.append(event(hostSeries, who: "this host", isHost: true, example: record))
        }
        host = hostSeries
        return events
    }

    /// Counts a line in `series`; whether it starts a burst.
    private func count(_ series: inout Series, at now: Double) -> Bool {
        if now > series.lastSeen + Self.maximumJump || now < series.lastSeen - window { series.restart(at: now) }
        series.lastSeen = now
        // Windows that ended since the last line feed the baseline: the one that had lines, then the empty ones.
        var elapsed = 0
        while now - series.windowStart >= window, elapsed < Self.catchUpWindows {
            series.baseline += (Double(series.current) - series.baseline) / Self.baselineWindows
            series.current = 0
            series.windowStart += window
            elapsed += 1
        }
        if now - series.windowStart >= window { series.windowStart = now }
        series.current += 1

        let second = Int64(now.rounded(.down))
        if let last = series.buckets.last, series.buckets.count > series.head, last.second == second {
            series.buckets[series.buckets.count - 1].count += 1
        } else {
            series.buckets.append((second, 1))
        }
        series.inWindow += 1
        let oldest = Int64((now - window).rounded(.down))
        while series.head < series.buckets.count, series.buckets[series.head].second <= oldest {
            series.inWindow -= series.buckets[series.head].count
            series.head += 1
        }
        // Compacted now and then, so a long-lived series holds about one window of buckets.
        if series.head > 64, series.head * 2 > series.buckets.count {
            series.buckets.removeFirst(series.head)
            series.head = 0
        }

        let count = Double(series.inWindow)
        if series.inBurst {
            if count < max(Double(minimumBurst) / 2, 2 * series.baseline) { series.inBurst = false }
            return false
        }
        guard count >= max(Double(minimumBurst), factor * series.baseline) else { return false }
        series.inBurst = true
        return true
    }

    private func event(_ series: Series, who: String, isHost: Bool, example: LogRecord) -> TriggerEvent {
        let usual = series.baseline < 0.1 ? "usually none" : "usually \(Self.format(series.baseline))"
        let message = "\(series.inWindow) error lines from \(who) within \(Int(window)) s (\(usual)); the latest: \(example.message.prefix(200))"
        return TriggerEvent(record: LogRecord(message: message, unit: isHost ? nil : example.unit, identifier: isHost ? "ai-sysadmin" : example.identifier,
                                              timestampMicroseconds: example.timestampMicroseconds),
                            templateID: 0, severity: .error, category: isHost ? .other : .service, escalate: true,
                            summary: "a burst of errors from \(who)", source: .errorRate)
    }

    /// Drops the half of the units' series that logged an error longest ago.
    private mutating func forgetQuietestHalf() {
        let byAge = units.sorted { $0.value.lastSeen < $1.value.lastSeen }
        for (key, _) in byAge.prefix(byAge.count / 2) { units[key] = nil }
    }

    var seriesCount: Int { units.count }

    private static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
