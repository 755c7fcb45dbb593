import SysadminConfiguration
import Testing
@testable import Monitoring

extension TriggerStateMachine {
    /// Reads one line and commits: the events it produced.
    mutating func events(for record: LogRecord, at now: ContinuousClock.Instant = .now) -> [TriggerEvent] {
        _ = handle(.read(record, source: "test", position: "\(statistics.lines + 1)"), at: now)
        return handle(.tick, at: now).flatMap { action -> [TriggerEvent] in if case .store(let commit) = action { commit.events } else { [] } }
    }
}

@Suite struct OperatorRuleTests {
    @Test func matchingLinesGetTheRulesVerdictWithoutAModel() async throws {
        let rule = try OperatorRule(pattern: #"segfault at [0-9a-f]+"#, severity: "critical", category: "hardware", escalate: true,
                                    summary: "a process crashed")
        var machine = TriggerStateMachine(rules: [rule], classifying: false, at: .now)
        let crash = machine.events(for: LogRecord(message: "app[12]: segfault at 7f3a error 4 in libc.so"))
        let quiet = machine.events(for: LogRecord(message: "app[12]: all good"))
        #expect(crash.count == 1 && quiet.isEmpty)
        #expect(crash.first?.severity == .critical && crash.first?.source == .rule && crash.first?.escalate == true)
        #expect(crash.first?.summary == "a process crashed")
    }

    @Test func theJournalPriorityFloorComesFirst() async throws {
        let noise = try OperatorRule(pattern: "noise", severity: "info", category: "other", escalate: false, summary: "known noise")
        var machine = TriggerStateMachine(rules: [noise], classifying: false, at: .now)
        let events = machine.events(for: LogRecord(message: "noise but critical", priority: 2))
        #expect(events.first?.severity == .critical, "an operator rule must not lower a journal priority 0-2 line")
        #expect(machine.events(for: LogRecord(message: "plain noise")).isEmpty)
    }

    @Test func invalidRulesAreRefusedWithTheReason() {
        #expect(throws: OperatorRule.Invalid.self) { try OperatorRule(pattern: "(unclosed", severity: "error", category: "other", escalate: false, summary: "x") }
        #expect(throws: OperatorRule.Invalid.self) { try OperatorRule(pattern: "x", severity: "urgent", category: "other", escalate: false, summary: "x") }
        #expect(throws: OperatorRule.Invalid.self) { try OperatorRule(pattern: "x", severity: "error", category: "kernel", escalate: false, summary: "x") }
    }

    /// The configuration validates rule severities and categories by name; the names must be the enums'.
    @Test func theConfigurationKnowsTheSameNamesAsTheVerdicts() {
        #expect(MonitoringConfiguration.Rule.severities == Severity.allCases.map(\.rawValue))
        #expect(MonitoringConfiguration.Rule.categories == Category.allCases.map(\.rawValue))
    }

    @Test func configCheckNamesABadRule() {
        var configuration = DaemonConfiguration()
        configuration.monitoring.rules = [.init(pattern: "(unclosed", severity: "urgent", summary: "")]
        configuration.monitoring.files = ["relative.log"]
        let keys = ConfigurationValidator().validate(configuration).map(\.keyPath)
        #expect(keys.contains("monitoring.rules[0].pattern") && keys.contains("monitoring.rules[0].severity")
                && keys.contains("monitoring.rules[0].summary") && keys.contains("monitoring.files"))
    }
}
