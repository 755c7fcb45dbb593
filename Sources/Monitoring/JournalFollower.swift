import Foundation

/// The journal on a thread of its own: an sd_journal handle is not thread-safe, so it is opened, read and closed
/// on one thread, never on Swift's cooperative pool (``JournalReader`` does the reading).
public final class JournalFollower: Sendable {
    private let thread: DedicatedThread
    private let reader: JournalReader
    public let source: String
    /// Whether it continued after a stored cursor.
    public let resumed: Bool

    private init(thread: DedicatedThread, reader: JournalReader, resumed: Bool) {
        self.thread = thread
        self.reader = reader
        self.source = reader.source
        self.resumed = resumed
    }

    /// Opens the system journal, or the journal files in `directory`, continuing after `cursor` (at the end without one).
    public static func open(directory: String?, after cursor: String?) async throws -> JournalFollower {
        let thread = DedicatedThread(name: "ai-sysadmin-journal")
        do {
            let (reader, resumed) = try await thread.run {
                let reader = try JournalReader(directory: directory, after: cursor)
                return (reader, reader.cursor != nil)
            }
            return JournalFollower(thread: thread, reader: reader, resumed: resumed)
        } catch {
            thread.stop()
            throw error
        }
    }

    /// Up to `limit` entries that arrived since the last read, oldest first, each with its cursor.
    public func read(limit: Int) async -> [(record: LogRecord, cursor: String)] {
        (try? await thread.run { [reader] in reader.read(limit: limit) }) ?? []
    }

    /// Closes the handle on its thread and ends the thread.
    public func close() async {
        _ = try? await thread.run { [reader] in reader.close() }
        thread.stop()
    }
}
