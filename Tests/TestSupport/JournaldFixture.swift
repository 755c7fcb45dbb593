import Foundation

/// A real systemd-journald, in a private mount namespace, writing its journal to a temporary directory: the
/// journal a daemon under test follows on hosts where PID 1 is not systemd. It is fed with `systemd-cat`
/// inside the same namespace. Needs root (unshare, mount); ``isAvailable`` says whether this machine can.
public final class JournaldFixture: Sendable {
    /// The directory journald writes to (`<machine-id>/system.journal` below it); what the reader opens.
    public let journalDirectory: String
    private let journald: Process

    public static let journaldBinary = ["/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    public static var isAvailable: Bool {
        getuid() == 0 && journaldBinary != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/nsenter") && FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-cat")
    }

    public struct FixtureError: Error, CustomStringConvertible {
        public let description: String
    }

    private init(journalDirectory: String, journald: Process) {
        self.journalDirectory = journalDirectory
        self.journald = journald
    }

    /// Starts journald with its runtime directory (/run/systemd) and volatile journal (/run/log) replaced by
    /// directories of its own, so nothing of the host's /run is touched.
    public static func start(in directory: String) async throws -> JournaldFixture {
        guard isAvailable, let binary = journaldBinary else {
            throw FixtureError(description: "journald fixture needs root, systemd-journald, unshare, nsenter and systemd-cat")
        }
        let runLog = directory + "/run-log"
        try FileManager.default.createDirectory(atPath: runLog, withIntermediateDirectories: true)
        let script = """
            set -e
            mount --make-rprivate /
            mkdir -p /run/systemd /run/log
            mount -t tmpfs tmpfs /run/systemd
            mkdir -p /run/systemd/journal
            mount --bind '\(runLog)' /run/log
            exec '\(binary)'
            """
        let journald = Process()
        journald.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        journald.arguments = ["--mount", "/bin/sh", "-c", script]
        journald.standardOutput = FileHandle.nullDevice
        journald.standardError = FileHandle.nullDevice
        try journald.run()
        let fixture = JournaldFixture(journalDirectory: runLog + "/journal", journald: journald)
        let started = await eventually(timeout: .seconds(10)) {
            let machines = (try? FileManager.default.contentsOfDirectory(atPath: runLog + "/journal")) ?? []
            return machines.contains { FileManager.default.fileExists(atPath: "\(runLog)/journal/\($0)/system.journal") }
        }
        guard started else {
            fixture.stop()
            throw FixtureError(description: "journald did not create its journal in \(runLog)")
        }
        return fixture
    }

    /// Logs `lines` through `systemd-cat -t identifier -p priority` inside journald's namespace.
    public func log(_ lines: [String], identifier: String, priority: String = "info") throws {
        let cat = Process()
        cat.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        cat.arguments = ["--mount=/proc/\(journald.processIdentifier)/ns/mnt", "/usr/bin/systemd-cat", "-t", identifier, "-p", priority]
        let input = Pipe()
        cat.standardInput = input
        try cat.run()
        input.fileHandleForWriting.write(Data(lines.map { $0 + "\n" }.joined().utf8))
        try input.fileHandleForWriting.close()
        cat.waitUntilExit()
        guard cat.terminationStatus == 0 else { throw FixtureError(description: "systemd-cat exited with status \(cat.terminationStatus)") }
    }

    public func stop() {
        guard journald.isRunning else { return }
        kill(journald.processIdentifier, SIGKILL)
        journald.waitUntilExit()
    }
}
