import Foundation
import Synchronization

/// Collects a child process's output line by line, read on a thread of its own, for tests to wait on.
public final class LineCollector: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    public var all: [String] { lines.withLock { $0 } }

    /// Adds a line of the test's own (e.g. the order in which things happened).
    public func append(_ line: String) { lines.withLock { $0.append(line) } }

    public func attach(to pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        let thread = Thread { [self] in
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[..<newline], as: UTF8.self)
                    buffer.removeSubrange(...newline)
                    lines.withLock { $0.append(line) }
                }
            }
        }
        thread.start()
    }
}
