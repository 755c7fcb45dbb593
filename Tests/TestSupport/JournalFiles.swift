import Foundation

/// Writes real systemd journal files with systemd's own `systemd-journal-remote`, from export-format input —
/// the format journald stores. For hosts where no journald runs (PID 1 is not systemd).
public enum JournalFiles {
    public static let writer = ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Appends `entries` (field → value) to `directory/remote.journal`, the first stamped `firstSecond`, each next
    /// one a second later.
    public static func append(_ entries: [[String: String]], to directory: String, firstSecond: Int) throws {
        guard let writer else { throw WriteError(description: "systemd-journal-remote is not installed (scripts/setup installs it)") }
        var export = ""
        for (offset, entry) in entries.enumerated() {
            let second = firstSecond + offset
            export += "__REALTIME_TIMESTAMP=\(second)000000\n__MONOTONIC_TIMESTAMP=\(second)\n_BOOT_ID=0123456789abcdef0123456789abcdef\n"
            for (key, value) in entry.sorted(by: { $0.key < $1.key }) { export += "\(key)=\(value)\n" }
            export += "\n"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: writer)
        process.arguments = ["--output=\(directory)/remote.journal", "-"]
        let input = Pipe()
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(export.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw WriteError(description: "systemd-journal-remote exited with status \(process.terminationStatus)")
        }
    }
}
