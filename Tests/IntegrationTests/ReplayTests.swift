import Foundation
import Monitoring
import Reasoning
import Store
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// `ai-sysadmin replay` — Layer 1 over a log dump — against a real llama-server with the tiny model, and
    /// against an upstream whose answers are well-formed JSON but no valid verdict.
    @Suite struct ReplayTests {
        struct ReviewOutcome: Decodable {
            struct Review: Decodable { let status: String; let summary: String }
            let review: Review?
            let failure: String?
            let modelCalls: Int
            let contextTokens: Int
            let budget: Int
        }

        struct Counts: Decodable {
            struct Statistics: Decodable {
                let lines: Int
                let templates: Int
                let modelCalls: Int
                let cacheHits: Int
                let events: Int
                let escalations: Int
                let classificationFailures: Int
            }
            let format: String
            let statistics: Statistics
            let review: ReviewOutcome?
        }

        /// 300 syslog lines of three kinds, with varying numbers, addresses and names.
        private func syslogFixture(in directory: String) throws -> String {
            let lines = (0..<300).map { i -> String in
                switch i % 3 {
                case 0: "Nov 25 10:\(10 + i % 50):00 web1 sshd[\(1000 + i)]: Failed password for root from 10.0.\(i % 200).\(i % 250) port \(2000 + i) ssh2"
                case 1: "Nov 25 10:\(10 + i % 50):01 web1 systemd[1]: Started Session \(i) of User alice."
                default: "Nov 25 10:\(10 + i % 50):02 web1 kernel: Out of memory: Killed process \(4000 + i) (java) total-vm:\(100_000 + i)kB"
                }
            }
            let path = directory + "/sys.log"
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        private func replay(_ file: String, url: String, keyFile: String?, store: String? = nil, reviewURL: String? = nil) throws -> Counts {
            var arguments = ["replay", file, "--json", "--trigger-url", url]
            if let store { arguments += ["--store", store] }
            if let reviewURL {
                arguments += ["--review", "--review-url", reviewURL]
                if let keyFile { arguments += ["--review-key-file", keyFile] }
            }
            if let keyFile { arguments += ["--trigger-key-file", keyFile] }
            let result = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), arguments)
            try #require(result.status == 0, "replay failed: \(result.stderr)")
            return try JSONDecoder().decode(Counts.self, from: Data(result.stdout.utf8))
        }

        /// A llama-server with the tiny model and a key, on a free port; the caller ends it.
        private func startServer(in directory: String) async throws -> (Process, String, String) {
            let keyFile = directory + "/key"
            let key = try ModelAPIKey.createKeyFile(at: keyFile)
            let port = freePort()
            let server = Process()
            server.executableURL = URL(fileURLWithPath: try TestEnvironment.llamaServer())
            server.arguments = ["-m", try TestEnvironment.model(), "--host", "127.0.0.1", "--port", "\(port)", "-c", "4096",
                                "-np", "1", "-t", "2", "--no-webui", "--api-key-file", keyFile]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            let base = "http://127.0.0.1:\(port)"
            let up = await eventually(timeout: .seconds(60)) {
                let health = UpstreamClient.HTTPRequest(url: base + "/health", headers: [("Authorization", "Bearer \(key)")])
                return (try? await UpstreamHTTPClient.shared.execute(health))?.status == 200
            }
            if !up {
                kill(server.processIdentifier, SIGKILL)
                server.waitUntilExit()
            }
            try #require(up, "llama-server did not come up")
            return (server, base, keyFile)
        }

        /// An incident among ordinary noise — an OOM kill and a unit that keeps failing — replayed through every
        /// layer with the real (tiny) models: trigger events, an escalation, a review and an analysis row.
        @Test func anIncidentReplayedThroughEveryLayerLeavesEventsAReviewAndAnAnalysis() async throws {
            let directory = try TestEnvironment.temporaryDirectory("incident")
            let (server, base, keyFile) = try await startServer(in: directory)
            defer {
                kill(server.processIdentifier, SIGKILL)
                server.waitUntilExit()
            }
            var records: [String] = []
            for i in 0..<120 {
                records.append(#"{"MESSAGE":"GET /api/items/\#(i) 200 \#(i % 40)ms","PRIORITY":"6","_SYSTEMD_UNIT":"nginx.service","SYSLOG_IDENTIFIER":"nginx"}"#)
                if i % 20 == 7 {
                    records.append(#"{"MESSAGE":"app.service: Main process exited, code=exited, status=1/FAILURE","PRIORITY":"4","_SYSTEMD_UNIT":"init.scope","SYSLOG_IDENTIFIER":"systemd"}"#)
                    records.append(#"{"MESSAGE":"app.service: Scheduled restart job, restart counter is at \#(i / 20 + 1).","PRIORITY":"6","SYSLOG_IDENTIFIER":"systemd"}"#)
                }
            }
            records.insert(#"{"MESSAGE":"Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:7345678kB","PRIORITY":"3","SYSLOG_IDENTIFIER":"kernel"}"#, at: 60)
            let dump = directory + "/incident.json"
            try (records.joined(separator: "\n") + "\n").write(toFile: dump, atomically: true, encoding: .utf8)
            // The operator's rules, as a host would have them: an OOM kill is critical, a failing unit an error.
            var config = DaemonConfiguration()
            config.monitoring.rules = [
                .init(pattern: "Out of memory: Killed process", severity: "critical", category: "resource", escalate: true,
                      summary: "the kernel killed a process for memory"),
                .init(pattern: "Main process exited, code=exited", severity: "error", category: "service", summary: "a unit's process failed"),
            ]
            let configFile = directory + "/config.json"
            try config.encodedJSON().write(toFile: configFile, atomically: true, encoding: .utf8)
            let store = directory + "/store.sqlite"
            let result = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), [
                "replay", dump, "--json", "--config", configFile, "--store", store, "--analyze",
                "--trigger-url", base, "--trigger-key-file", keyFile, "--review-url", base, "--review-key-file", keyFile,
                "--meta-url", base, "--meta-key-file", keyFile,
            ])
            try #require(result.status == 0, "replay failed: \(result.stderr)")
            let counts = try JSONDecoder().decode(Counts.self, from: Data(result.stdout.utf8))
            #expect(counts.statistics.lines == records.count)
            #expect(counts.statistics.escalations >= 1, "the OOM kill escalates")

            let database = try SQLiteStore(path: store)
            let events = try database.events(since: nil, limit: 10_000)
            #expect(events.contains { $0.severity == .critical && $0.message.hasPrefix("Out of memory") })
            #expect(events.filter { $0.message.contains("Main process exited") }.count == 6, "each failure of the unit is an event")
            #expect(try database.reviews(limit: 5).count == 1, "no review: \(counts.review?.failure ?? "")")
            let analyses = try database.analyses(limit: 5)
            #expect(analyses.count == 1, "no analysis row")
            let analysis = try #require(analyses.first)
            // What escalated: the review, when the tiny model's review says so, else Layer 1's escalating events.
            #expect(analysis.escalation.hasPrefix("review: ") || analysis.escalation.contains("escalating events in the replay of"),
                    "\(analysis.escalation)")
            // The tiny model's conclusion is not the point; that it was schema-bound and recorded either way is. A
            // failure must be about its answer (empty, cut off at the token limit), not the server refusing the request.
            #expect(analysis.analysis != nil || analysis.failure == "the analysis has no diagnosis"
                    || analysis.failure?.hasPrefix("the meta model's answer was not usable: the answer for schema analysis_") == true,
                    "\(analysis.failure ?? "")")
            let listed = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["analyses", "--store", store])
            #expect(listed.status == 0 && listed.stdout.hasPrefix("#\(analysis.id) "), "\(listed)")
        }

        @Test func aTemplateIsClassifiedOnceAndItsLaterLinesCostNoModelCall() async throws {
            let directory = try TestEnvironment.temporaryDirectory("replay")
            let (server, base, keyFile) = try await startServer(in: directory)
            defer {
                kill(server.processIdentifier, SIGKILL)
                server.waitUntilExit()
            }

            let store = directory + "/store.sqlite"
            let counts = try replay(try syslogFixture(in: directory), url: base, keyFile: keyFile, store: store)
            #expect(counts.format == "syslog")
            #expect(counts.statistics.lines == 300)
            #expect(counts.statistics.templates == 3)
            // Three new templates share one request (a verdict the tiny model's answer missed is asked once more, so
            // two at most); their other 297 lines cost none.
            #expect((1...2).contains(counts.statistics.modelCalls), "\(counts.statistics.modelCalls) model calls")
            #expect(counts.statistics.cacheHits == 297)
            #expect(counts.statistics.classificationFailures == 0, "the schema-constrained answer did not validate")

            // A second run from the same store: every verdict is known already.
            let again = try replay(try syslogFixture(in: directory), url: base, keyFile: keyFile, store: store)
            #expect(again.statistics.modelCalls == 0 && again.statistics.templates == 0 && again.statistics.cacheHits == 300)
            #expect(again.statistics.events == counts.statistics.events)
            let events = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["events", "--store", store, "--json", "--limit", "100000"])
            #expect(events.status == 0, "\(events.stderr)")
            #expect(events.stdout.split(separator: "\n").count == 2 * counts.statistics.events)
            let bad = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["events", "--store", store, "--since", "yesterday"])
            #expect(bad.status == 1 && bad.stderr.contains("--since 'yesterday'"))

            // Layer 3 over the replay's events: a schema-constrained review, its context within the server's budget
            // as the server's own tokenizer counts it, stored.
            let reviewed = try replay(try syslogFixture(in: directory), url: base, keyFile: keyFile, store: store, reviewURL: base)
            let outcome = try #require(reviewed.review)
            #expect(outcome.review != nil, "no review: \(outcome.failure ?? "")")
            #expect(outcome.contextTokens > 0 && outcome.contextTokens <= outcome.budget)
            #expect(try SQLiteStore(path: store).reviews(limit: 5).count == 1)
            let listed = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["reviews", "--store", store, "--json"])
            #expect(listed.status == 0 && listed.stdout.split(separator: "\n").count == 1, "\(listed.stderr)")
        }

        @Test func theKnowledgeCommandsAddAndFind() throws {
            let store = try TestEnvironment.temporaryDirectory("kb") + "/ai-sysadmin.sqlite"
            let daemon = try TestEnvironment.daemonExecutable()
            let added = try TestEnvironment.runToCompletion(daemon, ["knowledge", "add", "--store", store, "--title", "nginx OOM",
                                                                     "--tag", "nginx", "raise the memory limit of nginx.service"])
            #expect(added.status == 0 && added.stdout.hasPrefix("added note 1"), "\(added.stderr)")
            let found = try TestEnvironment.runToCompletion(daemon, ["knowledge", "search", "--store", store, "--json", "memory nginx"])
            #expect(found.status == 0 && found.stdout.contains("\"title\":\"nginx OOM\""), "\(found.stderr)")
            let refused = try TestEnvironment.runToCompletion(daemon, ["knowledge", "add", "--store", store, "--title", "x", "--tag", "two words", "body"])
            #expect(refused.status == 1 && refused.stderr.contains("--tag is one word"))
        }

        @Test func aTriggerModelThatIsNotThereIsNamedOnceAndRulesOnlyNeedsNone() throws {
            let directory = try TestEnvironment.temporaryDirectory("replay-down")
            let file = try syslogFixture(in: directory)
            let daemon = try TestEnvironment.daemonExecutable()
            let down = try TestEnvironment.runToCompletion(daemon, ["replay", file, "--trigger-url", "http://127.0.0.1:\(freePort())"])
            #expect(down.status == 1 && down.stderr.contains("is not available") && down.stderr.contains("--rules-only"), "\(down.stderr)")
            let rules = try TestEnvironment.runToCompletion(daemon, ["replay", file, "--rules-only", "--json"])
            let counts = try JSONDecoder().decode(Counts.self, from: Data(rules.stdout.utf8))
            #expect(counts.statistics.lines == 300 && counts.statistics.templates == 3 && counts.statistics.modelCalls == 0)
        }

        @Test func answersThatAreNoVerdictAreRetriedOnceThenRecordedAsFailures() async throws {
            let directory = try TestEnvironment.temporaryDirectory("replay-bad")
            let python = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_PYTHON"])
            let port = freePort()
            let upstream = Process()
            upstream.executableURL = URL(fileURLWithPath: python)
            upstream.arguments = [TestEnvironment.supportFile("broken-upstream.py"), "\(port)", "wrong-verdicts"]
            let output = Pipe()
            upstream.standardOutput = output
            let lines = LineCollector()
            lines.attach(to: output)
            try upstream.run()
            defer {
                kill(upstream.processIdentifier, SIGKILL)
                upstream.waitUntilExit()
            }
            try #require(await eventually(timeout: .seconds(10)) { lines.all.contains("listening") })

            // Two kinds of line; one carries journal priority 2 (crit), which a rule turns into an event anyway.
            let dump = directory + "/journal.json"
            let records = [
                #"{"MESSAGE":"disk quota exceeded for volume 7","PRIORITY":"2","_SYSTEMD_UNIT":"app.service"}"#,
                #"{"MESSAGE":"worker 12 finished batch 99","PRIORITY":"6"}"#,
                #"{"MESSAGE":"worker 13 finished batch 100","PRIORITY":"6"}"#,
            ]
            try (records.joined(separator: "\n") + "\n").write(toFile: dump, atomically: true, encoding: .utf8)
            let counts = try replay(dump, url: "http://127.0.0.1:\(port)", keyFile: nil)
            #expect(counts.format == "json")
            #expect(counts.statistics.modelCalls == 2, "one retry, no more")
            #expect(counts.statistics.classificationFailures == 2, "both templates are recorded as failures")
            #expect(counts.statistics.events == 1 && counts.statistics.escalations == 1,
                    "only the priority rule speaks; no verdict was invented for the rest")

            // The same upstream as a review model: its answer is no review either — retried once, then a failure.
            let reviewed = try replay(dump, url: "http://127.0.0.1:\(port)", keyFile: nil, reviewURL: "http://127.0.0.1:\(port)")
            let outcome = try #require(reviewed.review)
            #expect(outcome.review == nil && outcome.modelCalls == 2 && outcome.failure?.contains("not usable") == true, "\(outcome)")
        }
    }
}
