internal import CSystemd
import Foundation

/// Follows the systemd journal through libsystemd's sd_journal: the local system journal, or the journal
/// files in one directory (`journalctl --directory`).
///
/// Reading never blocks: ``read(limit:)`` returns what is there now, after letting sd_journal notice appended
/// and rotated files. Each record comes with its cursor; a reader created with a stored cursor continues
/// after that entry, so a restart neither loses nor repeats one. Without a cursor it starts at the end — a
/// daemon's first start does not replay the host's whole history. Not thread-safe (sd_journal is not): one
/// owner at a time.
public final class JournalReader: @unchecked Sendable {
    private var journal: OpaquePointer?
    public let source: String
    /// The cursor of the last entry returned.
    public private(set) var cursor: String?

    /// The journal directories systemd writes.
    public static let systemDirectories = ["/var/log/journal", "/run/log/journal"]

    /// Whether this host has a journal to follow: journald's socket is there (it runs), or a directory holds
    /// journal files. An empty /var/log/journal in a container without journald does not count.
    public static var systemJournalExists: Bool {
        if FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") { return true }
        return systemDirectories.contains { directory in
            guard let walker = FileManager.default.enumerator(atPath: directory) else { return false }
            return walker.contains { ($0 as? String)?.hasSuffix(".journal") == true }
        }
    }

    public struct OpenError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// - Parameters:
    ///   - directory: journal files to read; nil reads the local system journal.
    ///   - cursor: continue after this entry (from ``cursor`` of an earlier reader).
    public init(directory: String? = nil, after cursor: String? = nil) throws {
        source = directory.map { "journal:\($0)" } ?? "journal"
        var handle: OpaquePointer?
        let r = directory.map { sd_journal_open_directory(&handle, $0, 0) } ?? sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard r >= 0, let handle else {
            throw OpenError(message: "cannot open the journal\(directory.map { " in \($0)" } ?? ""): \(String(cString: strerror(-r)))")
        }
        journal = handle
        // Bounded reads: a field larger than this is cut, not mapped whole.
        sd_journal_set_data_threshold(handle, 64 * 1024)
        // Enables inotify, so sd_journal_process notices appends and rotations.
        _ = sd_journal_get_fd(handle)
        if let cursor, sd_journal_seek_cursor(handle, cursor) >= 0 {
            // Seeking puts the reader before the entry; step onto it and, if it is the one, past it.
            if sd_journal_next(handle) > 0, sd_journal_test_cursor(handle, cursor) <= 0 {
                sd_journal_previous(handle)
            }
            self.cursor = cursor
        } else {
            sd_journal_seek_tail(handle)
            // seek_tail points after the last entry; previous() lands on it, so next() returns only new ones.
            sd_journal_previous(handle)
        }
    }

    deinit {
        sd_journal_close(journal)
    }

    /// Closes the handle now (on the thread that used it); reads after this return nothing.
    public func close() {
        sd_journal_close(journal)
        journal = nil
    }

    /// Up to `limit` entries that arrived since the last read, oldest first, each with its cursor.
    public func read(limit: Int) -> [(record: LogRecord, cursor: String)] {
        guard let journal else { return [] }
        _ = sd_journal_process(journal)
        var records: [(LogRecord, String)] = []
        while records.count < limit, sd_journal_next(journal) > 0 {
            var rawCursor: UnsafeMutablePointer<CChar>?
            guard sd_journal_get_cursor(journal, &rawCursor) >= 0, let rawCursor else { continue }
            let entryCursor = String(cString: rawCursor)
            free(rawCursor)
            cursor = entryCursor
            // An entry without MESSAGE (some kernel and audit records) has nothing to classify; its cursor still counts.
            if let record = currentRecord() { records.append((record, entryCursor)) }
        }
        return records
    }

    /// The journal entries of one unit (`_SYSTEMD_UNIT`, or `SYSLOG_IDENTIFIER` for a name without a unit
    /// suffix) since `date`, newest last, at most `limit` — what the analysis's `journal` tool reads.
    /// `unit` must already be valid (it becomes a journal match, `FIELD=value`).
    public static func entries(unit: String, since date: Date, limit: Int, directory: String? = nil) throws -> [LogRecord] {
        let reader = try JournalReader(directory: directory, after: nil)
        guard let journal = reader.journal else { return [] }
        sd_journal_flush_matches(journal)
        _ = sd_journal_add_match(journal, "_SYSTEMD_UNIT=\(unit)", 0)
        _ = sd_journal_add_disjunction(journal)
        _ = sd_journal_add_match(journal, "UNIT=\(unit)", 0)
        // Newest first from the end, then put in time order.
        sd_journal_seek_tail(journal)
        var records: [LogRecord] = []
        let floor = UInt64(max(0, date.timeIntervalSince1970) * 1_000_000)
        while records.count < limit, sd_journal_previous(journal) > 0 {
            var realtime: UInt64 = 0
            if sd_journal_get_realtime_usec(journal, &realtime) >= 0, realtime < floor { break }
            if let record = reader.currentRecord() { records.append(record) }
        }
        return records.reversed()
    }

    private func currentRecord() -> LogRecord? {
        var fields: [String: String] = [:]
        for name in ["MESSAGE", "PRIORITY", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_PID", "_HOSTNAME"] {
            if let value = field(name) { fields[name] = value }
        }
        var realtime: UInt64 = 0
        if sd_journal_get_realtime_usec(journal, &realtime) >= 0 { fields["__REALTIME_TIMESTAMP"] = String(realtime) }
        return LogDumpReader.record(from: fields)
    }

    /// `NAME=value` → value, as text (invalid UTF-8 replaced); nil when the entry has no such field.
    private func field(_ name: String) -> String? {
        var data: UnsafeRawPointer?
        var length = 0
        guard sd_journal_get_data(journal, name, &data, &length) >= 0, let data, length > name.utf8.count else { return nil }
        let bytes = UnsafeRawBufferPointer(start: data, count: length).dropFirst(name.utf8.count + 1)
        return String(decoding: bytes, as: UTF8.self)
    }
}
