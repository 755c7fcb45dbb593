import ChildProcesses
import Foundation
import ModelSupervisor
import Monitoring
import Store
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// The `ai-sysadmin` executable as a real process: signals, sd_notify, no orphans, the status CLI.
    @Suite struct DaemonProcessTests {
        private func launchDaemon(_ config: DaemonConfiguration, environment extra: [String: String] = [:]) throws -> Process {
            try TestEnvironment.launchDaemon(config, environment: extra)
        }

        private func runCLI(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), arguments)
        }

        private func waitForAllReady(_ config: DaemonConfiguration, count: Int) async throws -> SupervisorStatus {
            let client = ControlClient(stateDirectory: config.stateDirectory)
            var last: SupervisorStatus?
            let ready = await eventually(timeout: .seconds(90)) {
                last = try? client.status()
                return last.map { $0.allReady && $0.models.count == count } ?? false
            }
            let log = (try? String(contentsOfFile: config.stateDirectory + "/daemon.log", encoding: .utf8)) ?? ""
            try #require(ready, "the daemon did not report \(count) Ready models; last status \(String(describing: last))\n\(log.suffix(3000))")
            return try #require(last)
        }

        @Test func sigkillOfTheDaemonLeavesNoModelServerBehind() async throws {
            var config = try TestEnvironment.configuration(label: "sigkill")
            // Standalone, the daemon also runs the gateway; it must die with the daemon like the models.
            config.api.supervised = true
            config.api.port = freePort()
            let notifySocket = try DatagramListener(path: config.stateDirectory + "/notify.sock")
            let daemon = try launchDaemon(config, environment: ["NOTIFY_SOCKET": notifySocket.path])
            var status = try await waitForAllReady(config, count: 3)
            let client = ControlClient(stateDirectory: config.stateDirectory)
            try #require(await eventually(timeout: .seconds(30)) {
                status = (try? client.status()) ?? status
                return status.gateway?.state == .ready
            }, "the gateway child did not become Ready: \(String(describing: status.gateway))")
            let gatewayPid = try #require(status.gateway?.pid)
            let chat = try await UpstreamHTTPClient.shared.execute(UpstreamClient.HTTPRequest(
                method: .post, url: "http://127.0.0.1:\(config.api.port)/v1/chat/completions",
                headers: [("Content-Type", "application/json")],
                body: Data(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#.utf8)))
            #expect(chat.status == 200, "the supervised gateway did not reach the meta model")
            let pids = status.models.compactMap(\.pid)
            try #require(pids.count == 3)
            for pid in pids {
                let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
                #expect(exe.hasSuffix("llama-server"), "pid \(pid) is \(exe)")
                // The children must not be able to talk to the daemon's service manager.
                let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
                #expect(!String(decoding: environ, as: UTF8.self).contains("NOTIFY_SOCKET="), "pid \(pid) inherited NOTIFY_SOCKET")
            }
            // Records of the children let a later start reap anything PDEATHSIG missed.
            #expect(Set(ChildRegistry(stateDirectory: config.stateDirectory).records().map(\.pid)) == Set(pids + [gatewayPid]))

            let messages = await notifySocket.receive(until: { $0.contains { $0.contains("READY=1") } }, timeout: .seconds(10))
            #expect(messages.contains { $0.hasPrefix("READY=1\nSTATUS=trigger ready, review ready, meta ready") }, "\(messages)")

            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            #expect(await eventually(timeout: .seconds(5)) { (pids + [gatewayPid]).allSatisfy { !isAlive($0) } },
                    "children outlived a SIGKILLed daemon: \((pids + [gatewayPid]).filter(isAlive))")
        }

        @Test(arguments: [SIGTERM, SIGINT])
        func aStopSignalStopsEveryServerAndExitsCleanly(signal: Int32) async throws {
            let config = try TestEnvironment.configuration(layers: [.trigger, .review], label: "stop\(signal)")
            let notifySocket = try DatagramListener(path: config.stateDirectory + "/notify.sock")
            // WATCHDOG_USEC without WATCHDOG_PID applies to whichever process reads it: the daemon.
            let daemon = try launchDaemon(config, environment: ["NOTIFY_SOCKET": notifySocket.path, "WATCHDOG_USEC": "400000"])
            let status = try await waitForAllReady(config, count: 2)
            let pids = status.models.compactMap(\.pid)

            // The CLI shows the same through the control socket.
            let cli = try runCLI(["status", "--json", "--state-dir", config.stateDirectory])
            #expect(cli.status == 0)
            let shown = try JSONDecoder().decode(SupervisorStatus.self, from: Data(cli.stdout.utf8))
            #expect(shown.models.map(\.layer) == [.trigger, .review])
            #expect(shown.models.allSatisfy { $0.state == .ready && $0.backend == .managed && $0.pid != nil })
            let socketMode = try FileManager.default.attributesOfItem(atPath: config.stateDirectory + "/control.sock")[.posixPermissions] as? Int
            #expect(socketMode == 0o660)

            // Each child's output reaches the daemon's log line by line, tagged with its layer.
            let log = try String(contentsOfFile: config.stateDirectory + "/daemon.log", encoding: .utf8)
            for layer in ["trigger", "review"] {
                #expect(log.split(separator: "\n").contains { $0.contains("ai.child.stream=stderr") && $0.contains("ai.layer=\(layer)") },
                        "no llama-server output tagged ai.layer=\(layer) in the daemon's log")
            }
            let pings = await notifySocket.receive(until: { $0.filter { $0 == "WATCHDOG=1" }.count >= 2 }, timeout: .seconds(5))
            #expect(pings.filter { $0 == "WATCHDOG=1" }.count >= 2, "watchdog pings: \(pings)")

            kill(daemon.processIdentifier, signal)
            daemon.waitUntilExit()
            #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
            #expect(pids.allSatisfy { !isAlive($0) }, "servers still running after the daemon exited: \(pids.filter(isAlive))")
            #expect(ChildRegistry(stateDirectory: config.stateDirectory).records().isEmpty)
            #expect(!FileManager.default.fileExists(atPath: config.stateDirectory + "/control.sock"))
            let messages = await notifySocket.receive(until: { $0.contains("STOPPING=1") }, timeout: .seconds(5))
            #expect(messages.contains("STOPPING=1"))
        }

        /// Model servers systemd runs (the NixOS units) may still be downloading or loading their models: the daemon
        /// does not hold `systemctl start` (and `nixos-rebuild switch`) until they answer. READY=1 comes at once, and
        /// STATUS= says how they are.
        @Test func withExternalModelServersTheDaemonIsReadyWithoutWaitingForThem() async throws {
            var config = try TestEnvironment.configuration(layers: [.trigger, .meta], label: "external-ready")
            for layer in [ModelLayer.trigger, .meta] {
                config.models[layer].backend = .external
                config.models[layer].systemdUnit = "llama-\(layer).service"
            }
            config.monitoring.enable = false
            let notifySocket = try DatagramListener(path: config.stateDirectory + "/notify.sock")
            let daemon = try launchDaemon(config, environment: ["NOTIFY_SOCKET": notifySocket.path])
            defer { TestEnvironment.end(daemon) }
            let messages = await notifySocket.receive(until: { $0.contains { $0.contains("READY=1") } }, timeout: .seconds(20))
            let ready = try #require(messages.first { $0.hasPrefix("READY=1") }, "no READY=1 while the model servers are not there: \(messages)")
            #expect(ready.contains("STATUS=") && !ready.contains("ready,") && ready.contains("trigger"), "\(ready)")
            let status = try ControlClient(stateDirectory: config.stateDirectory).status()
            #expect(!status.allReady, "the model servers were never there")
        }

        /// Layer 1 in the daemon: a followed file's lines become templates with the trigger model's verdicts, and
        /// a daemon stopped and started again continues where it stopped — every line counted exactly once.
        @Test func layerOneFollowsAFileAndAResumedDaemonNeitherLosesNorRepeatsLines() async throws {
            var config = try TestEnvironment.configuration(layers: [.trigger], label: "watch")
            let watched = config.stateDirectory + "/watched.log"
            _ = FileManager.default.createFile(atPath: watched, contents: nil)
            config.monitoring.files = [watched]
            config.monitoring.flushSeconds = 0.2
            // Every host is over a memory threshold of 0%: host metrics must raise one event.
            config.monitoring.metrics.memoryPercent = 0
            config.monitoring.metrics.samples = 2
            config.monitoring.metrics.intervalSeconds = 0.2
            func append(_ count: Int, from start: Int) throws {
                let handle = try #require(FileHandle(forWritingAtPath: watched))
                handle.seekToEndOfFile()
                for i in start..<(start + count) {
                    let line = i % 2 == 0 ? "Nov 25 10:00:\(10 + i) web1 app[42]: job \(i) finished in \(i * 3)ms\n"
                                          : "Nov 25 10:00:\(10 + i) web1 kernel: disk /dev/sda\(i % 4) is \(50 + i)% full\n"
                    handle.write(Data(line.utf8))
                }
                handle.closeFile()
            }
            let store = config.stateDirectory + "/ai-sysadmin.sqlite"
            func settled(lines: Int) async throws -> Bool {
                let size = try FileManager.default.attributesOfItem(atPath: watched)[.size] as? Int ?? -1
                return await eventually(timeout: .seconds(60)) {
                    guard let db = try? SQLiteStore(path: store), let templates = try? db.templates(),
                          let cursor = (try? db.cursor(for: "file:" + watched)).flatMap({ $0 }).flatMap(FileTailer.Cursor.init) else { return false }
                    return cursor.offset == Int64(size) && templates.reduce(0) { $0 + $1.count } == lines
                }
            }

            var daemon = try launchDaemon(config)
            _ = try await waitForAllReady(config, count: 1)
            try append(10, from: 0)
            #expect(try await settled(lines: 10), "the first ten lines were not all processed and stored")
            let db = try SQLiteStore(path: store)
            #expect(try db.templates().count == 2)
            #expect(try db.verdicts(validAt: Date()).count == 2, "the trigger model's verdicts were not stored")
            #expect(try db.events(since: nil, limit: 1000).filter { $0.message.hasPrefix("memory at") }.count == 1,
                    "the memory threshold raised no event, or more than one")
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()

            try append(6, from: 10)  // written while the daemon is down
            daemon = try launchDaemon(config)
            _ = try await waitForAllReady(config, count: 1)
            let counts = (try? db.templates().map(\.count)) ?? []
            #expect(try await settled(lines: 16), "after a restart the lines were lost or counted twice: \(counts)")
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }

        /// The journal source in the daemon, following a real systemd-journald (in a private mount namespace,
        /// writing to a temporary directory, fed with systemd-cat): new entries are judged with their identifier
        /// and priority, and a restarted daemon continues after the stored cursor — nothing lost, nothing twice.
        @Test(.enabled(if: JournaldFixture.isAvailable, "needs root, systemd-journald, unshare, nsenter and systemd-cat"))
        func layerOneFollowsTheJournalAndAResumedDaemonNeitherLosesNorRepeatsEntries() async throws {
            var config = try TestEnvironment.configuration(layers: [.trigger], label: "journal")
            let journald = try await JournaldFixture.start(in: config.stateDirectory)
            defer { journald.stop() }
            config.monitoring.journalDirectory = journald.journalDirectory
            config.monitoring.flushSeconds = 0.2
            config.monitoring.metrics.enable = false
            // A rule turns every test line into an event (the crit ones are critical by the priority floor first), so
            // they are counted whatever else journald logs about itself.
            config.monitoring.rules = [.init(pattern: "^(job|database connection) [0-9]+", severity: "warning", category: "service",
                                             summary: "a test line")]
            func log(_ count: Int, from start: Int) throws {
                for i in start..<(start + count) {
                    if i % 2 == 0 {
                        try journald.log(["job \(i) finished in \(i * 3)ms"], identifier: "batch", priority: "info")
                    } else {
                        try journald.log(["database connection \(i) lost: timeout after \(i)s"], identifier: "app", priority: "crit")
                    }
                }
            }
            let store = config.stateDirectory + "/ai-sysadmin.sqlite"
            func testEvents() -> [StoredEvent] {
                ((try? SQLiteStore(path: store).events(since: nil, limit: 10_000)) ?? []).filter {
                    $0.message.hasPrefix("job ") || $0.message.hasPrefix("database connection ")
                }
            }
            func settled(_ count: Int) async -> Bool {
                await eventually(timeout: .seconds(60)) {
                    (try? SQLiteStore(path: store).cursor(for: "journal:" + journald.journalDirectory)) != nil && testEvents().count >= count
                }
            }

            try log(3, from: 100)  // history from before the daemon's first start
            var daemon = try launchDaemon(config)
            _ = try await waitForAllReady(config, count: 1)
            try log(10, from: 0)
            #expect(await settled(10), "the ten new entries were not all processed")
            #expect(testEvents().map(\.message).allSatisfy { !$0.contains(" 10") }, "the history before the first start was replayed")
            let critical = testEvents().filter { $0.severity == .critical }
            #expect(critical.count == 5 && critical.allSatisfy { $0.identifier == "app" }, "priority 2 (crit) is critical: \(critical)")
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()

            try log(6, from: 10)  // logged while the daemon is down
            daemon = try launchDaemon(config)
            _ = try await waitForAllReady(config, count: 1)
            #expect(await settled(16))
            let messages = testEvents().map(\.message)
            #expect(messages.count == 16 && Set(messages).count == 16, "after a restart entries were lost or judged twice: \(messages)")
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
            let log = (try? String(contentsOfFile: config.stateDirectory + "/daemon.log", encoding: .utf8)) ?? ""
            #expect(log.contains("following the journal"))
        }

        /// Layer 3 in the daemon: an escalating event (here from a built-in signature, so the tiny model's judgement
        /// does not matter) brings a review soon after, stored with what the review model said.
        @Test func anEscalationBringsAReviewSoonAfter() async throws {
            var config = try TestEnvironment.configuration(layers: [.trigger, .review], label: "review")
            config.models.review.contextSize = 4096
            let watched = config.stateDirectory + "/watched.log"
            _ = FileManager.default.createFile(atPath: watched, contents: nil)
            config.monitoring.files = [watched]
            config.monitoring.flushSeconds = 0.2
            config.monitoring.metrics.enable = false
            // No rule: the built-in OOM-killer signature makes the line critical and escalating, model or not.
            config.monitoring.review.escalationDelaySeconds = 0.5
            let daemon = try launchDaemon(config)
            defer {
                kill(daemon.processIdentifier, SIGTERM)
                daemon.waitUntilExit()
            }
            _ = try await waitForAllReady(config, count: 2)
            let store = try SQLiteStore(path: config.stateDirectory + "/ai-sysadmin.sqlite")
            #expect(try store.reviews(limit: 5).isEmpty, "a review before anything happened (the interval is 600 s)")

            let handle = try #require(FileHandle(forWritingAtPath: watched))
            handle.seekToEndOfFile()
            handle.write(Data("Nov 25 10:00:00 web1 kernel: Out of memory: Killed process 4242 (java)\n".utf8))
            handle.closeFile()
            let reviewed = await eventually(timeout: .seconds(90)) { ((try? store.reviews(limit: 5)) ?? []).count == 1 }
            let log = (try? String(contentsOfFile: config.stateDirectory + "/daemon.log", encoding: .utf8)) ?? ""
            #expect(reviewed, "no review after the escalation; daemon log:\n\(log.suffix(2000))")
            #expect(try store.events(since: nil, limit: 10).contains { $0.escalate && $0.source == "signature:oom-killer" })
        }

        @Test func statusWithoutADaemonSaysSo() throws {
            let directory = try TestEnvironment.temporaryDirectory("nodaemon")
            let cli = try runCLI(["status", "--state-dir", directory])
            #expect(cli.status == 1)
            #expect(cli.stderr.contains("\(directory)/control.sock"))
            #expect(cli.stderr.contains("is `ai-sysadmin run` running"))
        }

        @Test func configCheckReportsEveryProblemWithKeyAndFix() throws {
            let directory = try TestEnvironment.temporaryDirectory("check")
            let file = directory + "/bad.json"
            try #"""
            {"llamaServer": "/nonexistent/llama-server",
             "models": {"trigger": {"host": "0.0.0.0", "model": "/nonexistent/m.gguf"}, "review": {"port": 40080}}}
            """#.write(toFile: file, atomically: true, encoding: .utf8)
            let cli = try runCLI(["config", "check", file])
            #expect(cli.status == 1)
            let text = cli.stderr
            for expected in ["llamaServer: '/nonexistent/llama-server' is not an executable",
                             "models.trigger.host: '0.0.0.0' is not a loopback address",
                             "models.trigger.model: model file /nonexistent/m.gguf does not exist",
                             "models.review.port: 40080 is also the port of models.trigger"] {
                #expect(text.contains(expected), "missing «\(expected)» in:\n\(text)")
            }
        }
    }
}

/// A Unix datagram socket standing in for systemd's notification socket.
final class DatagramListener: Sendable {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0, "cannot bind \(path)")
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Collects datagrams until `done` holds for what arrived so far, or `timeout` passes.
    func receive(until done: ([String]) -> Bool, timeout: Duration) async -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = await eventually(timeout: timeout) {
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard count > 0 else { break }
                messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
            }
            return done(messages)
        }
        return messages
    }
}
