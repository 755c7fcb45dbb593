import Foundation
import ModelSupervisor
import Monitoring
import Store
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// Layer 1 when the trigger model is not there, is loading, or is slow — with a real llama-server and the tiny
    /// model wherever a model answers, the whole daemon, and a followed log file. No template may be forgotten,
    /// reading may not stop, and a crash may neither lose nor double a line.
    @Suite struct LayerOneRecoveryTests {
        /// Kinds of line an operator meets in an incident, each a template of its own.
        static let incident = [
            "kernel: Out of memory: Killed process 4321 (java) total-vm:812345kB, anon-rss:412000kB",
            "kernel: EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0",
            "sshd[812]: Failed password for root from 203.0.113.9 port 52144 ssh2",
            "nginx[901]: upstream timed out (110: Connection timed out) while reading response header from upstream",
            "app[4455]: segfault at 0 ip 00007f3a2b1c sp 00007ffd9e2a error 4 in libc.so.6",
            "systemd[1]: postgresql.service: Main process exited, code=killed, status=9/KILL",
            "smartd[700]: Device: /dev/sda [SAT], 8 Currently unreadable (pending) sectors",
            "kernel: nvme nvme0: I/O 123 QID 4 timeout, aborting",
        ]
        /// Lines no built-in signature knows (a signature decides its line at once, model or not): only the model
        /// can judge them, so they wait for it.
        static let later = [
            "haproxy[700]: backend api has no server available!",
            "postgres[901]: FATAL:  the database system is in recovery mode",
            "dockerd[850]: level=error msg=\"Handler for POST /v1.43/containers/create returned error: no such image\"",
        ]

        struct Daemon {
            var config: DaemonConfiguration
            var process: Process
            var watched: String { config.monitoring.files[0] }
            var store: SQLiteStore { get throws { try SQLiteStore(path: config.storePath) } }
            var log: String { (try? String(contentsOfFile: config.stateDirectory + "/daemon.log", encoding: .utf8)) ?? "" }

            func append(_ messages: [String]) throws {
                let handle = try #require(FileHandle(forWritingAtPath: watched))
                handle.seekToEndOfFile()
                handle.write(Data(messages.map { "Nov 25 10:01:00 web1 \($0)\n" }.joined().utf8))
                handle.closeFile()
            }

            func status() -> SupervisorStatus? { try? ControlClient(stateDirectory: config.stateDirectory).status() }

            /// Every template in the store has a verdict, and no line waits to be judged again.
            func everyTemplateJudged(atLeast count: Int) throws -> Bool {
                let store = try store
                let templates = try store.templates()
                let verdicts = try store.verdicts(validAt: Date())
                let provisional = try store.provisionalLines()
                return templates.count >= count && verdicts.count == templates.count && provisional.isEmpty
            }
        }

        /// A daemon following one file, its trigger model at `triggerURL` (remote) or managed (nil).
        private func configuration(label: String, triggerURL: String?) throws -> DaemonConfiguration {
            var config = try TestEnvironment.configuration(layers: [.trigger], label: label)
            if let triggerURL {
                config.models.trigger.backend = .remote
                config.models.trigger.url = triggerURL
            }
            let watched = config.stateDirectory + "/app.log"
            _ = FileManager.default.createFile(atPath: watched, contents: nil)
            config.monitoring.files = [watched]
            config.monitoring.flushSeconds = 0.2
            config.monitoring.holdSeconds = 3
            config.monitoring.metrics.enable = false
            config.monitoring.review.enable = false
            return config
        }

        private func launch(_ config: DaemonConfiguration, ready: Bool = true) async throws -> Daemon {
            let daemon = Daemon(config: config, process: try TestEnvironment.launchDaemon(config))
            if ready {
                let up = await eventually(timeout: .seconds(120)) { daemon.status()?.allReady == true }
                if !up { TestEnvironment.end(daemon.process) }
                try #require(up, "the daemon did not get Ready:\n\(daemon.log.suffix(3000))")
            }
            return daemon
        }

        private func stop(_ daemon: Daemon) {
            kill(daemon.process.processIdentifier, SIGTERM)
            daemon.process.waitUntilExit()
        }

        /// A llama-server with the tiny model and no key on `port`, as someone else runs it (the remote backend).
        private func startLlamaServer(port: Int) async throws -> Process {
            let server = Process()
            server.executableURL = URL(fileURLWithPath: try TestEnvironment.llamaServer())
            server.arguments = ["-m", try TestEnvironment.model(), "--host", "127.0.0.1", "--port", "\(port)", "-c", "4096", "-np", "1",
                                "-t", "2", "--no-webui"]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            let up = await eventually(timeout: .seconds(60)) {
                (try? await UpstreamHTTPClient.shared.execute(UpstreamClient.HTTPRequest(url: "http://127.0.0.1:\(port)/health")))?.status == 200
            }
            if !up { TestEnvironment.end(server) }
            try #require(up, "llama-server did not come up on port \(port)")
            return server
        }

        /// The trigger model goes away while new kinds of line arrive, and comes back: every template gets its verdict
        /// and every line the rules decided meanwhile is judged again — also when the daemon was restarted in between.
        @Test func aTriggerModelOutageForgetsNoTemplateBeforeOrAfterARestart() async throws {
            let port = freePort()
            var model = try await startLlamaServer(port: port)
            defer { TestEnvironment.end(model) }
            let config = try configuration(label: "outage", triggerURL: "http://127.0.0.1:\(port)")
            var daemon = try await launch(config)
            defer { TestEnvironment.end(daemon.process) }

            TestEnvironment.end(model)
            try #require(await eventually(timeout: .seconds(20)) { daemon.status()?.monitoring?.triggerModel.hasPrefix("not ready") == true },
                         "the daemon did not notice the trigger model was gone: \(String(describing: daemon.status()))")
            try daemon.append(Self.incident + Self.incident.map { $0.replacingOccurrences(of: "4", with: "7") })
            // Past holdSeconds the rules decide the lines, and they wait to be judged again.
            let released = await eventually(timeout: .seconds(30)) {
                guard let backlog = daemon.status()?.monitoring else { return false }
                return backlog.linesHeld == 0 && backlog.provisionalLines > 0 && backlog.templatesWaiting >= Self.incident.count
            }
            try #require(released, "the lines were not decided by the rules while the model was away: \(String(describing: daemon.status()?.monitoring))")
            let shown = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["status", "--state-dir", config.stateDirectory])
            #expect(shown.stdout.contains("layer 1: \(daemon.status()?.monitoring?.templatesWaiting ?? -1) templates wait for a verdict (oldest ")
                    && shown.stdout.contains("to be judged again") && shown.stdout.contains("trigger model not ready"), "\(shown.stdout)")

            model = try await startLlamaServer(port: port)
            let judged = await eventually(timeout: .seconds(180)) { (try? daemon.everyTemplateJudged(atLeast: Self.incident.count)) == true }
            #expect(judged, "templates or lines were forgotten after the model came back: \(String(describing: daemon.status()?.monitoring))\n\(daemon.log.suffix(2000))")
            #expect(daemon.status()?.monitoring?.templatesWaiting == 0)

            // Away again, new kinds arrive, and the daemon is restarted before the model is back.
            TestEnvironment.end(model)
            try #require(await eventually(timeout: .seconds(20)) { daemon.status()?.monitoring?.triggerModel.hasPrefix("not ready") == true })
            try daemon.append(Self.later)
            try #require(await eventually(timeout: .seconds(30)) {
                (daemon.status()?.monitoring).map { $0.linesHeld == 0 && $0.provisionalLines >= Self.later.count } == true
            })
            stop(daemon)
            let store = try daemon.store
            #expect(try store.templates().count > store.verdicts(validAt: Date()).count, "the templates without a verdict were stored")
            #expect(try store.provisionalLines().count >= Self.later.count, "the lines to judge again were stored")

            model = try await startLlamaServer(port: port)
            daemon = try await launch(config)
            let afterRestart = await eventually(timeout: .seconds(180)) {
                (try? daemon.everyTemplateJudged(atLeast: Self.incident.count + Self.later.count)) == true
            }
            #expect(afterRestart, "after a restart templates or lines were forgotten: \(String(describing: daemon.status()?.monitoring))\n\(daemon.log.suffix(2000))")
            #expect(daemon.log.contains("templates wait for a verdict from an earlier run"))
        }

        /// An ordinary start: the daemon reads a backlog written while it was down — more lines than it may hold —
        /// while its managed trigger model is still loading. Once the model is Ready every template gets a verdict.
        @Test func aBacklogReadWhileTheManagedModelLoadsIsClassifiedOnceItIsReady() async throws {
            let config = try configuration(label: "backlog", triggerURL: nil)
            var daemon = try await launch(config)
            defer { TestEnvironment.end(daemon.process) }
            try daemon.append(["cron[300]: (root) CMD (run-parts /etc/cron.hourly)"])
            try #require(await eventually(timeout: .seconds(60)) { (try? daemon.everyTemplateJudged(atLeast: 1)) == true },
                         "the first line was not judged:\n\(daemon.log.suffix(2000))")
            stop(daemon)

            // 6,000 lines of eight kinds while the daemon is down.
            let backlog = (0..<6000).map { i in Self.incident[i % Self.incident.count].replacingOccurrences(of: "1", with: "\(i % 10)") }
            try daemon.append(backlog)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: daemon.watched)[.size] as? Int)
            daemon = try await launch(config, ready: false)
            // The backlog is read at once, while llama-server still loads the model.
            let held = await eventually(timeout: .seconds(30)) { (daemon.status()?.monitoring?.linesHeld ?? 0) > 0 }
            #expect(held, "the backlog was not held for the model: \(String(describing: daemon.status()))")
            let judged = await eventually(timeout: .seconds(240)) {
                guard (try? daemon.everyTemplateJudged(atLeast: 1 + Self.incident.count)) == true,
                      let cursor = (try? daemon.store.cursor(for: "file:" + daemon.watched)).flatMap({ $0 }).flatMap(FileTailer.Cursor.init)
                else { return false }
                return cursor.offset == Int64(size)
            }
            #expect(judged, "the backlog's templates did not all get verdicts: \(String(describing: daemon.status()?.monitoring))\n\(daemon.log.suffix(2000))")
            let lines = try daemon.store.templates().reduce(0) { $0 + $1.count }
            #expect(lines == 1 + backlog.count, "every line counted once")
        }

        /// A model that thinks for seconds does not stop reading: lines of known templates keep becoming stored events
        /// while a new template's classification is still out.
        @Test func readingGoesOnWhileTheTriggerModelThinks() async throws {
            let port = freePort()
            let (slow, answers) = try await TestEnvironment.startHelper("broken-upstream.py", ["\(port)", "slow-verdicts", "10"])
            defer { TestEnvironment.end(slow) }
            let config = try configuration(label: "slow", triggerURL: "http://127.0.0.1:\(port)")
            let daemon = try await launch(config)
            defer { TestEnvironment.end(daemon.process) }
            func events(_ prefix: String) -> Int {
                ((try? daemon.store.events(since: nil, limit: 10_000)) ?? []).filter { $0.message.hasPrefix(prefix) }.count
            }

            try daemon.append(["worker 1 lost its database connection"])
            try #require(await eventually(timeout: .seconds(30)) { events("worker") == 1 }, "the first verdict did not arrive")
            try daemon.append(["payment gateway returned HTTP 502 for order 77"])
            try #require(await eventually(timeout: .seconds(10)) { answers.all.filter { $0 == "request /v1/chat/completions" }.count == 2 })
            try daemon.append((2...21).map { "worker \($0) lost its database connection" })
            let kept = await eventually(timeout: .seconds(4)) { events("worker") == 21 }
            #expect(kept, "lines of a known template waited for another template's classification")
            #expect(!answers.all.contains("answered 2"), "the test must observe reading while the model still thinks")
            #expect(await eventually(timeout: .seconds(20)) { events("payment") == 1 })
        }

        /// A SIGKILL in the middle of a burst, with lines held for a slow model: after a restart every line has been
        /// judged exactly once.
        @Test func aSigkillDuringABurstLosesAndDoublesNothing() async throws {
            let port = freePort()
            let (slow, _) = try await TestEnvironment.startHelper("broken-upstream.py", ["\(port)", "slow-verdicts", "1"])
            defer { TestEnvironment.end(slow) }
            var config = try configuration(label: "sigkill", triggerURL: "http://127.0.0.1:\(port)")
            // Half the lines an operator rule decides at once; the other half waits for the slow model's verdict.
            config.monitoring.rules = [.init(pattern: "^burst [0-9]+", severity: "warning", category: "service", summary: "a burst line")]
            var daemon = try await launch(config)
            defer { TestEnvironment.end(daemon.process) }
            func messages() -> [String] {
                ((try? daemon.store.events(since: nil, limit: 100_000)) ?? []).map(\.message).filter { $0.hasPrefix("burst") || $0.hasPrefix("queue") }
            }
            let total = 4000
            try daemon.append((0..<total).map { $0 % 2 == 0 ? "burst \($0) of the nightly import" : "queue item \($0) needed a retry after \($0 % 7) s" })
            try #require(await eventually(timeout: .seconds(60)) { messages().count >= 200 }, "nothing was stored:\n\(daemon.log.suffix(2000))")
            kill(daemon.process.processIdentifier, SIGKILL)
            daemon.process.waitUntilExit()
            #expect(messages().count < total, "the burst was over before the kill; the test proves nothing")

            daemon = try await launch(config)
            let done = await eventually(timeout: .seconds(120)) { messages().count >= total }
            let stored = messages()
            #expect(done && stored.count == total && Set(stored).count == total,
                    "after a SIGKILL lines were lost or judged twice: \(stored.count) events, \(Set(stored).count) distinct")
        }

        /// A replay against a model that answers 503 stores templates without verdicts; a second replay of the same
        /// file against a working model asks about them.
        @Test func aSecondReplayAsksAboutWhatTheFirstCouldNot() async throws {
            let directory = try TestEnvironment.temporaryDirectory("replay-twice")
            let file = directory + "/incident.log"
            try (Self.incident.map { "Nov 25 10:01:00 web1 \($0)" }.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let store = directory + "/store.sqlite"
            let cli = try TestEnvironment.daemonExecutable()
            struct Counts: Decodable {
                struct Statistics: Decodable { let templates: Int; let modelCalls: Int; let classificationFailures: Int }
                let statistics: Statistics
            }

            let busyPort = freePort()
            let (busy, _) = try await TestEnvironment.startHelper("broken-upstream.py", ["\(busyPort)", "busy"])
            let first = try TestEnvironment.runToCompletion(cli, ["replay", file, "--json", "--store", store, "--trigger-url", "http://127.0.0.1:\(busyPort)"])
            TestEnvironment.end(busy)
            try #require(first.status == 0, "\(first.stderr)")
            let failed = try JSONDecoder().decode(Counts.self, from: Data(first.stdout.utf8))
            #expect(failed.statistics.classificationFailures == failed.statistics.templates && failed.statistics.templates > 0)
            #expect(try SQLiteStore(path: store).verdicts(validAt: Date()).isEmpty)

            let port = freePort()
            let model = try await startLlamaServer(port: port)
            defer { TestEnvironment.end(model) }
            let second = try TestEnvironment.runToCompletion(cli, ["replay", file, "--json", "--store", store, "--trigger-url", "http://127.0.0.1:\(port)"])
            try #require(second.status == 0, "\(second.stderr)")
            let counts = try JSONDecoder().decode(Counts.self, from: Data(second.stdout.utf8))
            #expect(counts.statistics.modelCalls > 0, "the stored templates without verdicts were not asked about")
            let db = try SQLiteStore(path: store)
            #expect(try db.verdicts(validAt: Date()).count == db.templates().count, "\(second.stderr)")
        }
    }
}
