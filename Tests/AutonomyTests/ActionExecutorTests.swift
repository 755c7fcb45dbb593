import Foundation
import SysadminConfiguration
import Systemd
import Testing
@testable import Autonomy

/// The executor with real processes and signals. Programs come from a directory of small scripts standing in
/// for journalctl and nixos-rebuild, so running the tests does not vacuum this machine's journal.
@Suite struct ActionExecutorTests {
    /// No systemd here: a manager on a bus that does not exist fails every call, which these actions never make.
    private let noSystemd = SdBusSystemdManager(busAddress: "unix:path=/nonexistent/bus")

    private func tools(_ scripts: [String: String]) throws -> HostTools {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tools-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, body) in scripts {
            let path = directory + "/" + name
            try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
        return HostTools(directories: [directory], isNixOS: true, systemProfile: directory + "/no-system-profile")
    }

    private func executor(_ tools: HostTools, timeout: Duration = .seconds(30)) -> ActionExecutor {
        ActionExecutor(systemd: noSystemd, tools: tools, validator: ActionValidator(), timeout: timeout, pollInterval: .milliseconds(20))
    }

    @Test func plansAreArgvWithAbsolutePathsBuiltOnlyFromTypedParameters() throws {
        let tools = try tools(["journalctl": "exit 0", "systemctl": "exit 0", "nix-env": "exit 0", "nix-store": "exit 0",
                               "nixos-rebuild": "exit 0"])
        let directory = tools.directories[0]
        #expect(try Action.vacuumJournal(maxMegabytes: 500, maxDays: 14).plan(tools: tools).steps
            == [.command(["\(directory)/journalctl", "--vacuum-size=500M", "--vacuum-time=14d"])])
        #expect(try Action.investigate(.unitJournal("nginx.service", lines: 50)).plan(tools: tools).steps
            == [.command(["\(directory)/journalctl", "--unit=nginx.service", "--lines=50", "--no-pager", "--output=short-iso"])])
        // No system profile in the test's tools: no generation is deleted, the store is collected.
        #expect(try Action.collectGarbage(olderThanDays: 7).plan(tools: tools).steps == [.command(["\(directory)/nix-store", "--gc"])])
        #expect(try Action.restartUnit("nginx.service").plan(tools: tools).steps == [.systemd(.restart, unit: "nginx.service")])
        let rebuild = try Action.nixosRebuild(.switchTo).plan(tools: tools)
        #expect(rebuild.rollback == [.command(["\(directory)/nixos-rebuild", "switch", "--rollback"])])
        #expect(throws: HostTools.Missing.self) { try Action.investigate(.processList).plan(tools: tools) }
    }

    @Test func aCommandsOutputAndStatusAreRecorded() async throws {
        let tools = try tools(["journalctl": #"echo "vacuumed: $*"; exit 0"#])
        let outcome = await executor(tools).execute(.vacuumJournal(maxMegabytes: 100, maxDays: nil))
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.output == "vacuumed: --vacuum-size=100M\n")
        #expect(outcome.calls == [#"argv "\#(tools.directories[0])/journalctl" "--vacuum-size=100M""#])
    }

    @Test func aFailingCommandIsAFailureWithItsStatus() async throws {
        let tools = try tools(["journalctl": "echo 'Permission denied' >&2; exit 1"])
        let outcome = await executor(tools).execute(.vacuumJournal(maxMegabytes: 100, maxDays: nil))
        #expect(!outcome.succeeded)
        #expect(outcome.summary.contains("exited with status 1"), "\(outcome.summary)")
        #expect(outcome.output.contains("Permission denied"))
    }

    @Test func aCommandPastTheTimeoutIsKilledAndSaysSo() async throws {
        let tools = try tools(["journalctl": "exec /bin/sleep 300"])
        let outcome = await executor(tools, timeout: .milliseconds(300)).execute(.vacuumJournal(maxMegabytes: 100, maxDays: nil))
        #expect(!outcome.succeeded)
        #expect(outcome.summary.contains("timed out"), "\(outcome.summary)")
    }

    @Test func outputIsBounded() async throws {
        let tools = try tools(["ps": "i=0; while [ $i -lt 5000 ]; do echo \"process line number $i with some padding text\"; i=$((i+1)); done"])
        let outcome = await executor(tools).execute(.investigate(.processList))
        #expect(outcome.succeeded)
        #expect(outcome.output.utf8.count <= ActionExecutor.outputLimit)
        #expect(outcome.output.hasSuffix("[output truncated]\n"))
    }

    @Test func aFailedSwitchIsRolledBack() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("rebuild-\(UUID().uuidString).log").path
        let tools = try tools(["nixos-rebuild": #"echo "$*" >> \#(log); [ "$2" = "--rollback" ] && exit 0; echo 'error: activation failed' >&2; exit 1"#])
        let outcome = await executor(tools).execute(.nixosRebuild(.switchTo))
        #expect(!outcome.succeeded)
        #expect(outcome.summary.contains("rolled back"), "\(outcome.summary)")
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "switch\nswitch --rollback\n")
        #expect(outcome.calls.last?.hasPrefix("rollback: ") == true)
    }

    /// A real process, a real signal, verified gone.
    @Test func killProcessSignalsALiveProcessAndVerifiesItEnded() async throws {
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["300"]
        try sleeper.run()
        defer { if sleeper.isRunning { kill(sleeper.processIdentifier, SIGKILL) } }
        let pid = sleeper.processIdentifier
        let action = try ActionValidator().validate(ProposedAction(type: "kill_process", parameters: ["pid": "\(pid)", "signal": "KILL"])).get()
        let outcome = await executor(try tools([:])).execute(action)
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.calls == ["kill(\(pid), \(SIGKILL))"])
        sleeper.waitUntilExit()
        #expect(sleeper.terminationReason == .uncaughtSignal)

        // The same pid again: nothing is running there any more, so nothing is signalled.
        let again = await executor(try tools([:])).execute(action)
        #expect(!again.succeeded && again.summary.contains("no process \(pid)"), "\(again.summary)")
    }
}
