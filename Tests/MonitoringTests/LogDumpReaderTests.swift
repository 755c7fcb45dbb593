import Foundation
import Testing
@testable import Monitoring

@Suite struct LogDumpReaderTests {
    private func records(_ content: Data) throws -> (LogDumpReader.Format, [LogRecord]) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dump-\(UUID().uuidString)").path
        try content.write(to: URL(fileURLWithPath: path))
        let reader = try LogDumpReader(path: path)
        return (reader.format, Array(reader))
    }

    @Test func journalJSONWithABinaryMessage() throws {
        let text = """
            {"MESSAGE":"Started nginx.service.","PRIORITY":"6","_SYSTEMD_UNIT":"init.scope","SYSLOG_IDENTIFIER":"systemd","_PID":"1","_HOSTNAME":"web1","__REALTIME_TIMESTAMP":"1764086178000000"}
            not json at all
            {"MESSAGE":[104,105,27,91,51,49,109],"PRIORITY":"2"}

            """
        let (format, records) = try records(Data(text.utf8))
        #expect(format == .json)
        #expect(records == [
            LogRecord(message: "Started nginx.service.", priority: 6, unit: "init.scope", identifier: "systemd", pid: 1,
                      hostname: "web1", timestampMicroseconds: 1_764_086_178_000_000),
            LogRecord(message: "hi [31m", priority: 2),
        ])
    }

    @Test func journalExportWithABinaryField() throws {
        var data = Data("__CURSOR=s=1\n__REALTIME_TIMESTAMP=1764086178000000\nPRIORITY=3\n_SYSTEMD_UNIT=app.service\n".utf8)
        let binary = Array("line one\nline two".utf8)
        data += Data("MESSAGE\n".utf8)
        var size = UInt64(binary.count).littleEndian
        data += Data(bytes: &size, count: 8)
        data += Data(binary) + Data("\n\n".utf8)
        data += Data("__CURSOR=s=2\nMESSAGE=second\nPRIORITY=4\n\n".utf8)
        let (format, records) = try records(data)
        #expect(format == .export)
        #expect(records.map(\.message) == ["line one line two", "second"])
        #expect(records.first?.unit == "app.service" && records.first?.priority == 3)
    }

    @Test func syslogLinesInBothTimestampStyles() throws {
        let text = """
            Nov 25 17:36:18 web1 sshd[812]: Failed password for root from 10.0.0.9 port 4242 ssh2
            2026-11-25T17:36:19.123+00:00 web1 kernel: Out of memory: Killed process 1234 (java)
            a line that is not syslog
            """
        let (format, records) = try records(Data(text.utf8))
        #expect(format == .syslog)
        #expect(records.count == 3)
        #expect(records[0] == LogRecord(message: "Failed password for root from 10.0.0.9 port 4242 ssh2", identifier: "sshd", pid: 812, hostname: "web1"))
        #expect(records[1].identifier == "kernel" && records[1].message == "Out of memory: Killed process 1234 (java)")
        #expect(records[1].timestampMicroseconds == 1_795_628_179_123_000)
        #expect(records[2].message == "a line that is not syslog" && records[2].identifier == nil)
    }

    @Test func hostileTextIsCleanedAndBounded() {
        let record = LogRecord(message: "ok\u{1B}[2Jwiped\u{7}" + String(repeating: "x", count: 10_000), priority: 42, pid: -3)
        #expect(!record.message.unicodeScalars.contains { $0.value < 0x20 })
        #expect(record.message.count == LogText.messageLimit)
        #expect(record.priority == nil && record.pid == nil)
    }
}
