import Foundation
import Monitoring
import Testing
@testable import Store

@Suite struct SQLiteStoreTests {
    private func temporaryStore() throws -> (SQLiteStore, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)/ai-sysadmin.sqlite").path
        return (try SQLiteStore(path: path), path)
    }

    private func event(_ message: String, at micros: Int64?, template: Int = 1) -> TriggerEvent {
        TriggerEvent(record: LogRecord(message: message, unit: "app.service", timestampMicroseconds: micros), templateID: template,
                     severity: .error, category: .service, escalate: false, summary: "app failed", source: .model)
    }

    @Test func templatesAndVerdictsSurviveReopeningAndVerdictsExpire() throws {
        let (store, path) = try temporaryStore()
        var miner = TemplateMiner()
        let id = miner.add("disk /dev/sda1 is 91% full").id
        _ = miner.add("disk /dev/sdb1 is 97% full")
        let verdict = Verdict(severity: .warning, category: .disk, escalate: false, summary: "a disk is nearly full")
        let decided = Date(timeIntervalSince1970: 1_800_000_000)
        try store.save(templates: miner.templates, verdicts: [id: verdict], decidedAt: decided, validFor: 3600)

        let reopened = try SQLiteStore(path: path)
        let templates = try reopened.templates()
        #expect(templates == miner.templates)
        var restored = TemplateMiner(restoring: templates)
        #expect(restored.add("disk /dev/sdc1 is 99% full").id == id)
        #expect(try reopened.verdicts(validAt: decided.addingTimeInterval(60)) == [id: verdict])
        #expect(try reopened.verdicts(validAt: decided.addingTimeInterval(3601)).isEmpty, "an expired verdict was still trusted")

        // A newer verdict replaces the old one.
        let newer = Verdict(severity: .critical, category: .disk, escalate: true, summary: "a disk is full")
        try reopened.save(templates: [], verdicts: [id: newer], decidedAt: decided.addingTimeInterval(7200), validFor: 3600)
        #expect(try reopened.verdicts(validAt: decided.addingTimeInterval(7300)) == [id: newer])
    }

    @Test func eventsAreKeptInTimeOrderAndRetentionDeletesOldOnes() throws {
        let (store, _) = try temporaryStore()
        try store.append([event("second", at: 2_000_000), event("first", at: 1_000_000), event("undated", at: nil)],
                         processedAt: Date(timeIntervalSince1970: 3))
        let all = try store.events(since: nil, limit: 10)
        #expect(all.map(\.message) == ["first", "second", "undated"])
        #expect(all.last?.timeMicroseconds == 3_000_000, "an undated line takes the processing time")
        #expect(all.first?.unit == "app.service" && all.first?.severity == .error)
        #expect(try store.events(since: Date(timeIntervalSince1970: 1.5), limit: 10).map(\.message) == ["second", "undated"])

        #expect(try !store.hasEscalation(since: Date(timeIntervalSince1970: 0)), "none of these escalates")
        try store.append([TriggerEvent(record: LogRecord(message: "oom", timestampMicroseconds: 2_500_000), templateID: 2,
                                       severity: .critical, category: .resource, escalate: true, summary: "oom", source: .rule)],
                         processedAt: Date(timeIntervalSince1970: 3))
        #expect(try store.hasEscalation(since: Date(timeIntervalSince1970: 2)))
        #expect(try !store.hasEscalation(since: Date(timeIntervalSince1970: 2.6)))
        #expect(try store.deleteEvents(olderThan: Date(timeIntervalSince1970: 2.7)) == 3)
        #expect(try store.events(since: nil, limit: 10).map(\.message) == ["undated"])
    }

    @Test func theNewestEventsComeFirstAndHoursCountBySeverity() throws {
        let (store, _) = try temporaryStore()
        let hour: Int64 = 1_800_000_000 / 3600 * 3600
        func at(_ seconds: Int64) -> Int64 { seconds * 1_000_000 }
        let critical = TriggerEvent(record: LogRecord(message: "oom", timestampMicroseconds: at(hour + 3599)), templateID: 2,
                                    severity: .critical, category: .resource, escalate: true, summary: "oom", source: .rule)
        try store.append([event("old", at: at(hour - 7200)), event("a", at: at(hour)), event("b", at: at(hour + 10)), critical],
                         processedAt: Date(timeIntervalSince1970: Double(hour + 4000)))
        #expect(try store.latestEvents(limit: 2).map(\.message) == ["oom", "b"])
        #expect(try store.eventCountsPerHour(since: Date(timeIntervalSince1970: Double(hour - 3600)))
                == [hour: [.error: 2, .critical: 1]], "the event before `since` is not counted")
    }

    @Test func cursorsAreKeptPerSource() throws {
        let (store, path) = try temporaryStore()
        #expect(try store.cursor(for: "journal") == nil)
        try store.setCursor("s=abc;i=1", for: "journal")
        try store.setCursor("s=abc;i=2", for: "journal")
        try store.setCursor("offset=42", for: "file:/var/log/app.log")
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.cursor(for: "journal") == "s=abc;i=2")
        #expect(try reopened.cursor(for: "file:/var/log/app.log") == "offset=42")
    }

    @Test func aFileThatIsNotADatabaseIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-db-\(UUID().uuidString).sqlite").path
        try "this is not sqlite".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try SQLiteStore(path: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "this is not sqlite", "the file was changed")
    }
}

@Suite struct KnowledgeBaseTests {
    @Test func notesAreFoundByTheirWordsBestFirstAndQueriesAreNotSyntax() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kb-\(UUID().uuidString)/ai-sysadmin.sqlite").path
        let store = try SQLiteStore(path: path)
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        try store.addKnowledge(title: "nginx restarts after OOM", body: "The worker was killed for memory; raise the cgroup limit.",
                               tags: ["nginx", "memory"], at: date)
        try store.addKnowledge(title: "Disk full on /var", body: "journald filled /var; vacuum the journal, then restart nginx.",
                               tags: ["disk"], at: date)
        try store.addKnowledge(title: "Unrelated", body: "Certificates renew on Mondays.", tags: [], at: date)

        let found = try SQLiteStore(path: path).searchKnowledge("nginx restarting", limit: 10)
        #expect(found.map(\.title) == ["nginx restarts after OOM", "Disk full on /var"], "a title match ranks first; stemming finds 'restart'")
        #expect(found.first?.tags == ["nginx", "memory"])
        #expect(try store.searchKnowledge("certificate", limit: 10).map(\.title) == ["Unrelated"])
        // FTS5 operators in a query are words, not syntax: no error, no injection.
        #expect(throws: Never.self) { try store.searchKnowledge(#"nginx" OR * NEAR( "#, limit: 10) }
        #expect(try store.searchKnowledge("   ", limit: 10).isEmpty)
    }
}

@Suite struct MetricHistoryTests {
    @Test func readingsAreKeptPerNameAndRetentionDeletesOldOnes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)/ai-sysadmin.sqlite").path
        let store = try SQLiteStore(path: path)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let sample = MetricSample(cpuPercent: nil, memoryPercent: 40, swapPercent: nil, loadPerCPU: 0.5, diskPercent: ["/": 70])
        try store.appendMetrics(sample.named, at: start)
        try store.appendMetrics(["memory": 55, "cpu": .nan], at: start.addingTimeInterval(60))
        #expect(try store.metricHistory("memory", since: start).map(\.value) == [40, 55])
        #expect(try store.metricHistory("disk:/", since: start).map(\.value) == [70])
        #expect(try store.metricHistory("cpu", since: start).isEmpty, "a reading that is not a number is not kept")
        #expect(try store.deleteMetrics(olderThan: start.addingTimeInterval(30)) == 3)
        #expect(try store.metricHistory("memory", since: start).map(\.value) == [55])
    }
}
