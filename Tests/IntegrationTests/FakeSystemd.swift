import Foundation
import TestSupport
import Testing

/// A private dbus-daemon with the stand-in systemd manager (Tests/Support/fake-systemd-manager.py) on it, for
/// hosts where PID 1 is not systemd. Everything the code under test sends goes over real D-Bus; the manager
/// prints each call it receives ("CALL RestartUnit nginx.service replace").
final class FakeSystemd: Sendable {
    let address: String
    let lines: LineCollector
    private let bus: Process
    private let manager: Process

    private static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Support/fake-systemd-manager.py").path

    private init(address: String, lines: LineCollector, bus: Process, manager: Process) {
        self.address = address
        self.lines = lines
        self.bus = bus
        self.manager = manager
    }

    /// - Parameters:
    ///   - unit: a unit that runs `command`.
    ///   - simulated: units without a process, by name, with their ActiveState.
    ///   - broken: simulated units that fail whenever started.
    ///   - relations: "A PROPERTY B", e.g. "sshd.service Requires app.service" (the reverse is kept too).
    ///   - properties: "A NAME=VALUE", e.g. "app.service FailureAction=reboot".
    static func start(in directory: String, unit: String? = nil, command: [String] = [], simulated: [String: String] = [:],
                      broken: [String] = [], relations: [String] = [], properties: [String] = []) async throws -> FakeSystemd {
        let path = directory + "/bus"
        let bus = Process()
        bus.executableURL = URL(fileURLWithPath: "/usr/bin/dbus-daemon")
        bus.arguments = ["--session", "--nofork", "--nopidfile", "--address=unix:path=\(path)"]
        try bus.run()
        guard await eventually(timeout: .seconds(10), { FileManager.default.fileExists(atPath: path) }) else {
            kill(bus.processIdentifier, SIGKILL)
            throw FakeSystemdError(message: "dbus-daemon did not start")
        }
        let address = "unix:path=\(path)"
        guard let python = ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_PYTHON"] else {
            kill(bus.processIdentifier, SIGKILL)
            throw FakeSystemdError(message: "AI_SYSADMIN_TEST_PYTHON is not set; run the tests through scripts/test")
        }
        let manager = Process()
        manager.executableURL = URL(fileURLWithPath: python)
        var arguments = [script, "--bus", address]
        if let unit { arguments += ["--unit", unit] }
        for (name, state) in simulated.sorted(by: { $0.key < $1.key }) { arguments += ["--simulate", "\(name)=\(state)"] }
        for name in broken { arguments += ["--broken", name] }
        for relation in relations { arguments += ["--relation", relation] }
        for property in properties { arguments += ["--property", property] }
        if !command.isEmpty { arguments += ["--"] + command }
        manager.arguments = arguments
        let output = Pipe()
        manager.standardOutput = output
        let lines = LineCollector()
        lines.attach(to: output)
        try manager.run()
        let systemd = FakeSystemd(address: address, lines: lines, bus: bus, manager: manager)
        guard await eventually(timeout: .seconds(20), { lines.all.contains("ready") }) else {
            systemd.terminate()
            throw FakeSystemdError(message: "the fake manager did not start: \(lines.all)")
        }
        return systemd
    }

    /// The manager's calls, as "METHOD NAME [MODE]".
    var calls: [String] { lines.all.filter { $0.hasPrefix("CALL ") }.map { String($0.dropFirst(5)) } }

    /// The pids the command unit was started with, oldest first.
    var startedPids: [Int32] { lines.all.filter { $0.hasPrefix("started ") }.compactMap { Int32($0.dropFirst(8)) } }

    /// Ends the manager, its units and the bus. SIGKILL, because children that Foundation's `Process` starts from
    /// the test runner may inherit a signal mask that blocks SIGTERM.
    func terminate() {
        for pid in startedPids { kill(-pid, SIGKILL) }
        for process in [manager, bus] where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    struct FakeSystemdError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
