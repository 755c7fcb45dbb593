import ChildProcesses
import Testing
@testable import ModelSupervisor

@Suite struct PrintableLineTests {
    @Test func controlCharactersAreEscaped() {
        #expect(PrintableLine.sanitize("\u{1B}[2Jcleared") == "\\x1B[2Jcleared")
        #expect(PrintableLine.sanitize("ok\rnotice ai-sysadmin: all good") == "ok\\x0Dnotice ai-sysadmin: all good")
        #expect(PrintableLine.sanitize("a\u{7F}b\u{85}c\u{0}") == "a\\x7Fb\\x85c\\x00")
    }

    @Test func ordinaryTextTabsAndUnicodeStay() {
        let line = "srv  load_model: loaded\tmodel 'SmolLM2' — ✓ 日本語"
        #expect(PrintableLine.sanitize(line) == line)
    }

    @Test func longLinesAreCut() {
        let sanitized = PrintableLine.sanitize(String(repeating: "x", count: 10_000))
        #expect(sanitized.count == PrintableLine.maximumLength + "…[cut]".count)
        #expect(sanitized.hasSuffix("…[cut]"))
    }

    @Test func theStderrTailInLastErrorIsSanitized() {
        var machine = ModelLifecycle()
        _ = machine.handle(.startRequested, at: .now)
        _ = machine.handle(.exited(description: "exited with status 1", stderrTail: ["\u{1B}]0;pwned\u{7}"]), at: .now)
        #expect(machine.lastError == "exited with status 1\n\\x1B]0;pwned\\x07")
    }
}
