import Foundation
import SysadminConfiguration
@testable import Systemd
import Testing
@testable import ModelSupervisor

/// What can be tested without a service manager and without touching this process's environment: no test here
/// may set or unset a variable, because other tests spawn processes at the same time and glibc's `environ` is
/// not safe to change under them (it crashed `Process.run` once). That sd_notify reaches the manager — READY,
/// STATUS, WATCHDOG, STOPPING — is tested on the real daemon with NOTIFY_SOCKET in its own environment
/// (IntegrationTests.DaemonProcessTests).
@Suite struct SystemdNotifierTests {
    @Test func statusCannotSmuggleAnotherAssignment() {
        #expect(SystemdNotifier.sanitize("x\nREADY=1") == "x READY=1")
    }

    @Test func withoutNotifySocketNothingIsSent() {
        // The test runner is not a systemd service; if it ever is, this says nothing.
        if ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] == nil {
            #expect(!SystemdNotifier().notify("READY=1"))
            #expect(!SystemdNotifier().isActive)
        }
    }

    @Test func watchdogIntervalIsHalfOfWatchdogSec() {
        #expect(SystemdNotifier.pingInterval(watchdogMicroseconds: 20_000_000) == .seconds(10))
        #expect(SystemdNotifier.pingInterval(watchdogMicroseconds: 0) == nil)
    }

    @Test func childrenNeverInheritTheNotifySocketOrLlamaOptions() {
        let environment = ChildEnvironment.filtered([
            "NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1", "LISTEN_FDS": "3",
            "LLAMA_ARG_API_KEY": "sneaky", "PATH": "/usr/bin", "HOME": "/root",
        ])
        #expect(environment == ["PATH": "/usr/bin", "HOME": "/root"])
    }
}

@Suite struct UnitNameTests {
    @Test func acceptsSystemdUnitNames() {
        for name in ["llama-trigger.service", "getty@tty1.service", "dev-sda1.device", "a\\x2db.mount", "x:y.timer"] {
            #expect(UnitName.isValid(name), "\(name)")
        }
    }

    @Test func rejectsShellAndPathTricks() {
        for name in ["nginx", "nginx.service; rm -rf /", "../etc/passwd.service", "a b.service", ".service",
                     "$(reboot).service", "nginx.service\n", String(repeating: "a", count: 250) + ".service"] {
            #expect(!UnitName.isValid(name), "\(name)")
        }
    }
}

@Suite struct LlamaServerCommandTests {
    @Test func buildsTheArgvFromTheLayerConfiguration() {
        var server = ModelServerConfiguration.defaults(for: .review)
        server.threads = 4
        server.gpuLayers = 99
        server.extraArgs = ["--metrics"]
        let command = LlamaServerCommand(layer: .review, server: server, executable: "/bin/llama-server",
                                         modelPath: "/m/qwen3-4b.gguf", apiKeyFile: "/s/keys/review.key")
        #expect(command.arguments == [
            "--host", "127.0.0.1", "--port", "40081", "--model", "/m/qwen3-4b.gguf", "--ctx-size", "32768",
            "--n-gpu-layers", "99", "--parallel", "1", "--alias", "review", "--api-key-file", "/s/keys/review.key",
            "--no-webui", "--threads", "4", "--metrics",
        ])
    }
}
