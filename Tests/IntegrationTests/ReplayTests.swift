import Foundation
import ModelSupervisor
import Store
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

        @Test func aTemplateIsClassifiedOnceAndItsLaterLinesCostNoModelCall() async throws {
            let directory = try TestEnvironment.temporaryDirectory("replay")
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
            defer {
                kill(server.processIdentifier, SIGKILL)
                server.waitUntilExit()
            }
            let base = "http://127.0.0.1:\(port)"
            let up = await GatewayTests.Running.poll(timeout: .seconds(60)) {
                let health = UpstreamClient.HTTPRequest(url: base + "/health", headers: [("Authorization", "Bearer \(key)")])
                return (try? await UpstreamHTTPClient.shared.execute(health))?.status == 200
            }
            try #require(up, "llama-server did not come up")

            let store = directory + "/store.sqlite"
            let counts = try replay(try syslogFixture(in: directory), url: base, keyFile: keyFile, store: store)
            #expect(counts.format == "syslog")
            #expect(counts.statistics.lines == 300)
            #expect(counts.statistics.templates == 3)
            #expect(counts.statistics.modelCalls == 1, "three new templates share one request; their other 297 lines none")
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
