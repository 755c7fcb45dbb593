import Foundation
import ModelSupervisor
import Synchronization
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// The `external` backend: systemd runs llama-server and the daemon asks it, over D-Bus, to restart a unit
    /// that stops answering. PID 1 is not systemd here, so a private dbus-daemon carries the real
    /// RestartUnit call to a stand-in manager (Tests/Support/fake-systemd-manager.py) that runs llama-server.
    @Suite struct ExternalBackendTests {
        /// Ends a test double and everything it started. SIGKILL, because children that Foundation's `Process`
        /// starts from the test runner may inherit a signal mask that blocks SIGTERM.
        private func terminate(_ process: Process, unitsFrom lines: LineCollector? = nil) {
            for line in lines?.all ?? [] where line.hasPrefix("started ") {
                if let pid = Int32(line.dropFirst(8)) { Glibc.kill(-pid, SIGKILL) }
            }
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        private static let fakeManagerScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Support/fake-systemd-manager.py").path

        /// Starts a private dbus-daemon with its socket in `directory`; returns it and its address.
        private func startBus(in directory: String) async throws -> (Process, String) {
            let path = directory + "/bus"
            let bus = Process()
            bus.executableURL = URL(fileURLWithPath: "/usr/bin/dbus-daemon")
            bus.arguments = ["--session", "--nofork", "--nopidfile", "--address=unix:path=\(path)"]
            try bus.run()
            try #require(await eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: path) },
                         "dbus-daemon did not start")
            return (bus, "unix:path=\(path)")
        }

        /// Starts the stand-in manager running `command` as `unit`, once it owns its bus name.
        private func startManager(bus: String, unit: String, command: [String]) async throws -> (Process, LineCollector) {
            let python = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_PYTHON"],
                                      "AI_SYSADMIN_TEST_PYTHON is not set; run the tests through scripts/test")
            let manager = Process()
            manager.executableURL = URL(fileURLWithPath: python)
            manager.arguments = [Self.fakeManagerScript, "--bus", bus, "--unit", unit, "--"] + command
            let output = Pipe()
            manager.standardOutput = output
            let lines = LineCollector()
            lines.attach(to: output)
            try manager.run()
            try #require(await eventually(timeout: .seconds(20)) { lines.all.contains("ready") },
                         "the fake manager did not start: \(lines.all)")
            return (manager, lines)
        }

        @Test func aHungExternalUnitIsRestartedThroughSystemdsDBusAPI() async throws {
            var config = try TestEnvironment.configuration(layers: [.meta], label: "external")
            let (bus, busAddress) = try await startBus(in: config.stateDirectory)
            defer { terminate(bus) }

            // The unit, as NixOS's llama-meta.service would run it, key file included.
            let keyFile = config.stateDirectory + "/meta.key"
            try "external-unit-key\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
            let port = config.models.meta.port
            let (manager, lines) = try await startManager(bus: busAddress, unit: "llama-meta.service", command: [
                try TestEnvironment.llamaServer(), "--host", "127.0.0.1", "--port", "\(port)", "--model", try TestEnvironment.model(),
                "--ctx-size", "1024", "--threads", "1", "--api-key-file", keyFile,
            ])
            defer { terminate(manager, unitsFrom: lines) }

            config.models.meta.backend = .external
            config.models.meta.apiKeyFile = keyFile
            let running = RunningSupervisor.start(config, unitRestarter: SdBusUnitRestarter(busAddress: busAddress))

            let ready = try await running.waitFor("external meta Ready") { $0.allReady }
            #expect(ready.models.first?.backend == .external)
            let client = try #require(await running.supervisor.client(for: .meta))
            #expect(try await client.chatCompletion(.init(messages: [.user("hi")], maxTokens: 4)).choices.count == 1)

            let firstPid = try #require(lines.all.first { $0.hasPrefix("started ") }.flatMap { Int32($0.dropFirst(8)) })
            kill(firstPid, SIGSTOP)
            try await running.waitFor("meta restarted by the manager") { status in
                status.allReady && (status.models.first?.restarts ?? 0) >= 1
            }
            #expect(lines.all.contains("RestartUnit llama-meta.service replace"), "\(lines.all)")
            #expect(lines.all.filter { $0.hasPrefix("started ") }.count == 2)
            #expect(running.model(.meta)?.lastError?.contains("asked systemd to restart llama-meta.service") == true)
            #expect(await eventually(timeout: .seconds(5)) { !isAlive(firstPid) })

            try await running.stop()
            // The daemon does not own an external unit: stopping the daemon leaves it running.
            let secondPid = try #require(lines.all.last { $0.hasPrefix("started ") }.flatMap { Int32($0.dropFirst(8)) })
            #expect(isAlive(secondPid))
        }

        @Test func restartingAnUnknownUnitReportsSystemdsError() async throws {
            let (bus, busAddress) = try await startBus(in: try TestEnvironment.temporaryDirectory("nounit"))
            defer { terminate(bus) }
            let (manager, lines) = try await startManager(bus: busAddress, unit: "llama-meta.service", command: ["/bin/sleep", "300"])
            defer { terminate(manager, unitsFrom: lines) }

            let restarter = SdBusUnitRestarter(busAddress: busAddress)
            await #expect {
                try await restarter.restartUnit("llama-other.service")
            } throws: { "\($0)".contains("Unit llama-other.service not found") }
            await #expect {
                try await restarter.restartUnit("nginx; reboot")
            } throws: { "\($0)".contains("not a valid systemd unit name") }
            #expect(!lines.all.contains { $0.hasPrefix("RestartUnit nginx") }, "an invalid unit name reached the bus")
        }
    }
}
