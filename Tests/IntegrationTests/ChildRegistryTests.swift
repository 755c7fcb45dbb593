import ChildProcesses
import Foundation
import SysadminConfiguration
import TestSupport
import Testing

extension IntegrationTests {
    /// Stale-child reaping with real processes: what PDEATHSIG cannot cover is cleaned up at the next start.
    @Suite struct ChildRegistryTests {
        /// Starts `sleep 300`, a stand-in for a llama-server left over from a crashed daemon.
        private func startSleeper() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sleep")
            process.arguments = ["300"]
            try process.run()
            return process
        }

        private func startTime(_ pid: Int32) throws -> UInt64 {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
            return try #require(UInt64(fields[19]))
        }

        @Test func aRecordedChildStillRunningIsKilledAtStartup() async throws {
            let registry = ChildRegistry(stateDirectory: try TestEnvironment.temporaryDirectory("reap"))
            let sleeper = try startSleeper()
            let pid = sleeper.processIdentifier
            try registry.record(.init(name: "trigger", pid: pid, startTime: try startTime(pid), executable: "/bin/sleep"))

            let reaped = await registry.reapStale(logger: TestEnvironment.logger)
            sleeper.waitUntilExit()
            #expect(reaped.map(\.pid) == [pid])
            #expect(sleeper.terminationReason == .uncaughtSignal && sleeper.terminationStatus == SIGKILL)
            #expect(registry.records().isEmpty)
        }

        @Test func aReusedPidIsNeverKilled() async throws {
            let registry = ChildRegistry(stateDirectory: try TestEnvironment.temporaryDirectory("reuse"))
            let sleeper = try startSleeper()
            defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
            let pid = sleeper.processIdentifier
            // Same pid, different start time: the recorded process is gone and this is someone else.
            try registry.record(.init(name: "meta", pid: pid, startTime: try startTime(pid) - 1, executable: "/bin/sleep"))

            let reaped = await registry.reapStale(logger: TestEnvironment.logger)
            #expect(reaped.isEmpty)
            #expect(isAlive(pid))
            #expect(registry.records().isEmpty)
        }
    }
}
