import Monitoring
import SysadminConfiguration
import Testing

@Suite struct ContextWindowCompactionTests {
    private func event(_ template: Int, _ severity: Severity, _ message: String, at time: Int64) -> TriggerEvent {
        TriggerEvent(record: LogRecord(message: message, unit: "app.service", timestampMicroseconds: time), templateID: template,
                     severity: severity, category: .service, escalate: false, summary: "template \(template)", source: .model)
    }

    @Test func eventsAreCompactedPerTemplateAndSeverityNewestFirst() {
        let entries = ContextWindow.compact([
            event(1, .error, "old failure", at: 10), event(2, .warning, "disk 91%", at: 20), event(1, .error, "new failure", at: 30),
            event(1, .critical, "worse failure", at: 25),
        ], at: 100)
        #expect(entries.map(\.templateID) == [1, 1, 2])
        #expect(entries[0].count == 2 && entries[0].example == "new failure" && entries[0].severity == .error)
        #expect(entries[1].severity == .critical)
    }

    @Test func theContextIsCutFromTheOldestEndToItsBudget() async {
        let entries = (0..<50).map { i in
            ContextWindow.Entry(templateID: i, severity: .warning, summary: "summary \(i)", example: String(repeating: "x", count: 40),
                                unit: nil, count: 1, lastMicroseconds: Int64(1000 - i))
        }
        // A stand-in tokenizer: one token per 4 bytes.
        let rendered = await ContextWindow.render(entries, budget: 300) { $0.utf8.count / 4 }
        #expect(rendered.tokens <= 300 && rendered.dropped > 0)
        #expect(rendered.text.hasPrefix("1× [warning, model] summary 0 "), "the newest entry must stay")
        #expect(!rendered.text.contains("summary 49 "), "the oldest entry must go first")
        let small = await ContextWindow.render(Array(entries.prefix(2)), budget: 300) { $0.utf8.count / 4 }
        #expect(small.dropped == 0)
    }

    @Test(arguments: [
        ("nginx.service", true), ("getty@tty1.service", true), ("sys-fs-fuse-connections.mount", true), ("a\\x2db.service", true),
        ("nginx", false), ("../nginx.service", false), ("nginx service.service", false), ("$(reboot).service", false),
        ("-nginx.service", false), ("a@b@c.service", false), ("@.service", false),
    ])
    func unitNamesFollowSystemdsRules(_ name: String, _ valid: Bool) {
        #expect(UnitName.isValid(name) == valid)
    }
}
