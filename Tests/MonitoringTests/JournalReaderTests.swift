import Foundation
import TestSupport
import Testing
@testable import Monitoring

/// sd_journal over real journal files. No journald runs here (PID 1 is not systemd), so the files are written
/// by systemd's own `systemd-journal-remote` from export-format input — the same format journald stores.
@Suite struct JournalReaderTests {
    private var seconds = 1_764_000_000

    private mutating func append(_ entries: [[String: String]], to directory: String) throws {
        try JournalFiles.append(entries, to: directory, firstSecond: seconds + 1)
        seconds += entries.count
    }

    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(.enabled(if: JournalFiles.writer != nil, "systemd-journal-remote is not installed (scripts/setup installs it)"))
    mutating func followsAppendsWithTheFieldsAndResumesAfterItsCursor() async throws {
        let directory = try temporaryDirectory()
        try append([["MESSAGE": "old history", "PRIORITY": "6"]], to: directory)
        let reader = try JournalReader(directory: directory)
        #expect(reader.read(limit: 100).isEmpty, "a reader without a cursor starts at the end, not at the host's history")

        try append([
            ["MESSAGE": "nginx: worker process exited on signal 11", "PRIORITY": "3", "_SYSTEMD_UNIT": "nginx.service",
             "SYSLOG_IDENTIFIER": "nginx", "_PID": "812", "_HOSTNAME": "web1"],
            ["MESSAGE": "\u{1B}[31mred\u{1B}[0m text", "PRIORITY": "6"],
        ], to: directory)
        var records: [(record: LogRecord, cursor: String)] = []
        #expect(await eventually(timeout: .seconds(10)) {
            records += reader.read(limit: 100)
            return records.count >= 2
        })
        #expect(records.count == 2)
        let first = try #require(records.first?.record)
        #expect(first == LogRecord(message: "nginx: worker process exited on signal 11", priority: 3, unit: "nginx.service",
                                   identifier: "nginx", pid: 812, hostname: "web1", timestampMicroseconds: Int64(seconds - 1) * 1_000_000))
        #expect(records[1].record.message == " [31mred [0m text", "control characters are replaced")
        let cursor = try #require(reader.cursor)
        #expect(cursor == records[1].cursor)

        // A restart: two more entries arrive while nobody reads; a new reader continues after the cursor.
        try append([["MESSAGE": "third"], ["MESSAGE": "fourth"]], to: directory)
        let resumed = try JournalReader(directory: directory, after: cursor)
        #expect(resumed.read(limit: 100).map(\.record.message) == ["third", "fourth"], "nothing lost, nothing repeated")
        #expect(resumed.read(limit: 100).isEmpty)
    }

    /// What the analysis's `journal` tool reads: one unit's entries since a time, in time order, bounded.
    @Test(.enabled(if: JournalFiles.writer != nil, "systemd-journal-remote is not installed (scripts/setup installs it)"))
    mutating func aUnitsEntriesSinceATimeAreFoundByMatch() throws {
        let directory = try temporaryDirectory()
        try append((0..<6).map { i in
            ["MESSAGE": "line \(i)", "_SYSTEMD_UNIT": i % 2 == 0 ? "nginx.service" : "app.service", "PRIORITY": "6"]
        }, to: directory)
        let all = try JournalReader.entries(unit: "nginx.service", since: Date(timeIntervalSince1970: 0), limit: 100, directory: directory)
        #expect(all.map(\.message) == ["line 0", "line 2", "line 4"])
        let recent = try JournalReader.entries(unit: "nginx.service", since: Date(timeIntervalSince1970: Double(seconds - 2)), limit: 100,
                                               directory: directory)
        #expect(recent.map(\.message) == ["line 4"], "entries before the time are left out")
        #expect(try JournalReader.entries(unit: "nginx.service", since: Date(timeIntervalSince1970: 0), limit: 2, directory: directory)
            .map(\.message) == ["line 2", "line 4"], "the newest within the limit")
    }

    @Test func aMissingDirectoryIsAnErrorThatNamesIt() throws {
        #expect(throws: JournalReader.OpenError.self) { try JournalReader(directory: "/nonexistent/journal") }
    }
}
