import Foundation
import Testing
@testable import ModelSupervisor

/// sd_notify against a datagram socket the test binds, as systemd's manager would.
@Suite(.serialized) struct SystemdNotifierTests {
    /// Binds a Unix datagram socket, points NOTIFY_SOCKET at it for `body`, returns what arrived.
    private func capture(_ body: () -> Void) throws -> [String] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8)).sock").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd); unlink(path) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        body()
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard count > 0 else { break }
            messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
        }
        return messages
    }

    @Test func readyStatusWatchdogAndStoppingReachTheSocket() throws {
        let notifier = SystemdNotifier()
        let messages = try capture {
            notifier.status("trigger starting")
            notifier.ready(status: "trigger ready, review ready")
            notifier.watchdog()
            notifier.stopping()
        }
        #expect(messages == ["STATUS=trigger starting", "READY=1\nSTATUS=trigger ready, review ready", "WATCHDOG=1", "STOPPING=1"])
    }

    @Test func statusCannotSmuggleAnotherAssignment() throws {
        let messages = try capture { SystemdNotifier().status("x\nREADY=1") }
        #expect(messages == ["STATUS=x READY=1"])
    }

    @Test func withoutNotifySocketNothingIsSent() {
        unsetenv("NOTIFY_SOCKET")
        #expect(!SystemdNotifier().notify("READY=1"))
        #expect(!SystemdNotifier().isActive)
    }

    @Test func watchdogIntervalIsHalfOfWatchdogSec() {
        setenv("WATCHDOG_USEC", "20000000", 1)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        defer { unsetenv("WATCHDOG_USEC"); unsetenv("WATCHDOG_PID") }
        #expect(SystemdNotifier().watchdogPingInterval == .seconds(10))
    }

    @Test func childrenNeverInheritTheNotifySocketOrLlamaOptions() {
        setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1)
        setenv("WATCHDOG_USEC", "1000", 1)
        setenv("LLAMA_ARG_API_KEY", "sneaky", 1)
        defer { unsetenv("NOTIFY_SOCKET"); unsetenv("WATCHDOG_USEC"); unsetenv("LLAMA_ARG_API_KEY") }
        let environment = ChildEnvironment.current()
        #expect(environment["NOTIFY_SOCKET"] == nil)
        #expect(environment["WATCHDOG_USEC"] == nil)
        #expect(environment["LLAMA_ARG_API_KEY"] == nil)
        #expect(environment["PATH"] != nil)
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
