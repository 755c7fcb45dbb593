import Foundation
import ModelSupervisor
import Synchronization
import SysadminConfiguration
import Systemd
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// The `external` backend: systemd runs llama-server and the daemon asks it, over D-Bus, to restart a unit
    /// that stops answering. PID 1 is not systemd here, so a private dbus-daemon carries the real
    /// RestartUnit call to a stand-in manager (Tests/Support/fake-systemd-manager.py) that runs llama-server.
    @Suite struct ExternalBackendTests {
        @Test func aHungExternalUnitIsRestartedThroughSystemdsDBusAPI() async throws {
            var config = try TestEnvironment.configuration(layers: [.meta], label: "external")
            // The unit, as NixOS's llama-meta.service would run it, key file included.
            let keyFile = config.stateDirectory + "/meta.key"
            try "external-unit-key\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
            let port = config.models.meta.port
            let systemd = try await FakeSystemd.start(in: config.stateDirectory, unit: "llama-meta.service", command: [
                try TestEnvironment.llamaServer(), "--host", "127.0.0.1", "--port", "\(port)", "--model", try TestEnvironment.model(),
                "--ctx-size", "1024", "--threads", "1", "--api-key-file", keyFile,
            ])
            defer { systemd.terminate() }

            config.models.meta.backend = .external
            config.models.meta.apiKeyFile = keyFile
            let running = RunningSupervisor.start(config, unitRestarter: SdBusUnitRestarter(busAddress: systemd.address))

            let ready = try await running.waitFor("external meta Ready") { $0.allReady }
            #expect(ready.models.first?.backend == .external)
            let client = try #require(await running.supervisor.client(for: .meta))
            #expect(try await client.chatCompletion(.init(messages: [.user("hi")], maxTokens: 4)).choices.count == 1)

            let firstPid = try #require(systemd.startedPids.first)
            kill(firstPid, SIGSTOP)
            try await running.waitFor("meta restarted by the manager") { status in
                status.allReady && (status.models.first?.restarts ?? 0) >= 1
            }
            #expect(systemd.calls.contains("RestartUnit llama-meta.service replace"), "\(systemd.lines.all)")
            #expect(systemd.startedPids.count == 2)
            #expect(running.model(.meta)?.lastError?.contains("asked systemd to restart llama-meta.service") == true)
            #expect(await eventually(timeout: .seconds(5)) { !isAlive(firstPid) })

            try await running.stop()
            // The daemon does not own an external unit: stopping the daemon leaves it running.
            let secondPid = try #require(systemd.startedPids.last)
            #expect(isAlive(secondPid))
        }

        @Test func restartingAnUnknownUnitReportsSystemdsError() async throws {
            let systemd = try await FakeSystemd.start(in: try TestEnvironment.temporaryDirectory("nounit"), unit: "llama-meta.service",
                                                      command: ["/bin/sleep", "300"])
            defer { systemd.terminate() }

            let restarter = SdBusUnitRestarter(busAddress: systemd.address)
            await #expect {
                try await restarter.restartUnit("llama-other.service")
            } throws: { "\($0)".contains("Unit llama-other.service not found") }
            await #expect {
                try await restarter.restartUnit("nginx; reboot")
            } throws: { "\($0)".contains("not a valid systemd unit name") }
            #expect(!systemd.lines.all.contains { $0.contains("nginx") }, "an invalid unit name reached the bus")
        }
    }
}
