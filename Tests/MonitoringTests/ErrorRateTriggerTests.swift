import Testing
@testable import Monitoring

/// Bursts of error lines, by the lines' own time: one event per burst, against each series' own usual rate.
@Suite struct ErrorRateTriggerTests {
    func line(_ seconds: Double, unit: String = "app.service", _ message: String = "request failed") -> LogRecord {
        LogRecord(message: message, unit: unit, timestampMicroseconds: Int64(seconds * 1_000_000))
    }

    @Test func aBurstGivesOneEventForItsUnitAndNoneForTheHostItExplains() throws {
        var trigger = ErrorRateTrigger(window: 60, minimumBurst: 10, factor: 5)
        var events: [TriggerEvent] = []
        for second in 0..<9 { events += trigger.observe(line(Double(second))) }
        #expect(events.isEmpty, "nine errors in a minute are not a burst of ten")
        events += trigger.observe(line(9))
        let burst = try #require(events.first)
        #expect(events.count == 1 && burst.source == .errorRate && burst.severity == .error && burst.escalate)
        #expect(burst.record.unit == "app.service" && burst.record.message.hasPrefix("10 error lines from app.service within 60 s (usually none)"))
        for second in 10..<40 { events += trigger.observe(line(Double(second))) }
        #expect(events.count == 1, "the same burst goes on: no second event")
    }

    @Test func errorsSpreadOverUnitsAreTheHostsBurst() throws {
        var trigger = ErrorRateTrigger(window: 60, minimumBurst: 10, factor: 5)
        var events: [TriggerEvent] = []
        for n in 0..<10 { events += trigger.observe(line(Double(n), unit: "unit\(n).service")) }
        let burst = try #require(events.first)
        #expect(events.count == 1 && burst.record.unit == nil && burst.summary == "a burst of errors from this host")
    }

    @Test func aBurstEndsAndTheNextOneIsNewAndAnUsualRateIsNoBurst() {
        var trigger = ErrorRateTrigger(window: 60, minimumBurst: 10, factor: 5)
        var events: [TriggerEvent] = []
        for second in 0..<12 { events += trigger.observe(line(Double(second))) }
        // Quiet for ten minutes, then another burst.
        for second in 600..<612 { events += trigger.observe(line(Double(second))) }
        #expect(events.filter { $0.record.unit != nil }.count == 2)

        // A unit that always logs 20 errors a minute: after an hour that is its usual, and 25 is no burst.
        var steady = ErrorRateTrigger(window: 60, minimumBurst: 10, factor: 5)
        var time = 0.0
        for _ in 0..<(120 * 20) {
            _ = steady.observe(line(time, unit: "noisy.service"))
            time += 3
        }
        var later: [TriggerEvent] = []
        for n in 0..<25 { later += steady.observe(line(time + Double(n) * 2.4, unit: "noisy.service")) }
        #expect(later.filter { $0.record.unit != nil }.isEmpty, "25 a minute is about usual for this unit")
        // Five times its usual in one window is.
        for n in 0..<110 { later += steady.observe(line(time + 61 + Double(n) * 0.5, unit: "noisy.service")) }
        #expect(later.filter { $0.record.unit != nil }.count == 1)
    }

    @Test func aLineWithoutATimeIsNotCountedAndInventedUnitsAreForgotten() {
        var trigger = ErrorRateTrigger(window: 60, minimumBurst: 2, factor: 1)
        for _ in 0..<5 { #expect(trigger.observe(LogRecord(message: "no time", unit: "a.service")).isEmpty) }
        for n in 0..<(ErrorRateTrigger.maximumSeries + 10) {
            _ = trigger.observe(LogRecord(message: "x", identifier: "invented\(n)", timestampMicroseconds: Int64(n) * 1_000_000))
        }
        #expect(trigger.seriesCount <= ErrorRateTrigger.maximumSeries)
    }

    @Test func theStateMachineCountsErrorLinesAndSeparatesTheBurstFromTheLines() throws {
        var machine = TriggerStateMachine(errorRate: ErrorRateTrigger(window: 60, minimumBurst: 5, factor: 5), classifying: false, at: .now)
        var events: [TriggerEvent] = []
        for n in 0..<5 {
            let record = LogRecord(message: "Failed password for root from 203.0.113.45 port \(52000 + n) ssh2", identifier: "sshd",
                                   timestampMicroseconds: Int64(n) * 1_000_000)
            for action in machine.handle(.read(record, source: "file:/a", position: "\(n)"), at: .now) {
                if case .store(let commit) = action { events += commit.events }
            }
        }
        for action in machine.handle(.tick, at: .now) { if case .store(let commit) = action { events += commit.events } }
        #expect(events.filter { $0.source == .signature("auth-failure") }.count == 5)
        let burst = try #require(events.first { $0.source == .errorRate })
        #expect(burst.position == nil && burst.record.identifier == "sshd" && burst.category == .service)
    }

    /// A stamp from the future, or a clock stepped back, restarts the series' window instead of freezing it.
    @Test func aJumpInTimeNeitherFreezesNorFloodsASeries() {
        var trigger = ErrorRateTrigger(window: 60, minimumBurst: 10, factor: 5)
        _ = trigger.observe(line(4_102_444_800))  // 2100
        var events: [TriggerEvent] = []
        for second in 0..<9 { events += trigger.observe(line(1_000_000 + Double(second))) }
        #expect(events.isEmpty, "the future line does not count towards a burst now")
        events += trigger.observe(line(1_000_009))
        #expect(events.count == 1, "after the jump the window counts again: \(events.map(\.record.message))")
    }

    /// A flood of one series stays cheap and bounded: buckets per second, about one window of them.
    @Test func aFloodIsCountedInPerSecondBuckets() {
        var trigger = ErrorRateTrigger(window: 60, minimumBurst: 10, factor: 5)
        var events = 0
        for n in 0..<200_000 { events += trigger.observe(line(Double(n) / 1000)).count }
        #expect(events == 1, "one burst, however long it lasts")
    }
}
