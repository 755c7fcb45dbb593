internal import _ProcessCShims
import Foundation
import Logging

/// Records of the children the daemon started, one file per server (`trigger`, …, `gateway`) under
/// `<stateDirectory>/children/`.
///
/// PDEATHSIG covers a daemon killed with SIGKILL; these records cover everything else (a kernel that did not
/// deliver it, a daemon that crashed mid-spawn): at start-up every recorded child that still runs — same pid
/// *and* same start time, so a reused pid is never touched — is killed with its process group.
public struct ChildRegistry: Sendable {
    public struct Record: Codable, Sendable, Equatable {
        /// The supervised server: a layer's name or `gateway`.
        public var name: String
        public var pid: Int32
        public var startTime: UInt64
        public var executable: String

        public init(name: String, pid: Int32, startTime: UInt64, executable: String) {
            self.name = name
            self.pid = pid
            self.startTime = startTime
            self.executable = executable
        }
    }

    public let directory: String

    public init(stateDirectory: String) {
        directory = (stateDirectory as NSString).appendingPathComponent("children")
    }

    public func record(_ record: Record) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = file(for: record.name)
        let data = try JSONEncoder().encode(record)
        // .atomic writes a temporary file and renames it, so a crash never leaves half a record.
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public func remove(name: String) {
        try? FileManager.default.removeItem(atPath: file(for: name))
    }

    public func records() -> [Record] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            guard let data = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(name))
            else { return nil }
            return try? JSONDecoder().decode(Record.self, from: data)
        }
    }

    /// Kills every recorded child that is still the same process and waits (up to `timeout`) until it is gone.
    /// Returns the records that were still alive.
    @discardableResult
    public func reapStale(logger: Logger, timeout: Duration = .seconds(5)) async -> [Record] {
        var reaped: [Record] = []
        for record in records() {
            defer { remove(name: record.name) }
            guard record.pid > 1, record.isStillRunning else { continue }
            logger.warning("killing a child left over from an earlier run", metadata: [
                "ai.child.name": "\(record.name)", "ai.child.pid": "\(record.pid)",
            ])
            kill(-record.pid, SIGKILL)
            kill(record.pid, SIGKILL)
            reaped.append(record)
        }
        let deadline = ContinuousClock.now + timeout
        while reaped.contains(where: \.isStillRunning), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return reaped
    }

    private func file(for name: String) -> String {
        (directory as NSString).appendingPathComponent("\(name).json")
    }
}

extension ChildRegistry.Record {
    /// Whether the recorded process still exists — the same pid *and* start time, so a reused pid is not it
    /// (a zombie counts until reaped).
    var isStillRunning: Bool {
        startTime != 0 && ai_process_start_time(pid) == startTime
    }
}
