import Foundation
import Monitoring
import Store
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// `ai-sysadmin eval` over the shipped labelled corpus: the bar the rules alone must clear, a model talked into
    /// calling everything normal that cannot lower a signature, the operator's overrides, and the test model.
    @Suite struct JudgmentEvalTests {
        struct Report: Decodable {
            struct Rate: Decodable { let count: Int; let of: Int; let value: Double? }
            struct Figures: Decodable { let recall, severityRecall, precision, falsePositiveRate: Rate }
            struct Mistake: Decodable { let kind: String; let line: Int; let label: String; let got: String?; let message: String }
            struct Score: Decodable {
                let entries: Int
                let lines: Figures
                let templates: Figures
                let eventsBySource: [String: Int]
                let burstEvents: Int
                let mistakes: [Mistake]
                let mistakeCount: Int
            }
            let model: String?
            let score: Score
            let modelCalls: Int
            let classificationFailures: Int
        }

        static let corpus = TestEnvironment.repositoryRoot + "/benchmarks/judgment/corpus.log"
        static let labels = TestEnvironment.repositoryRoot + "/benchmarks/judgment/labels.csv"

        func eval(_ arguments: [String], log: String = corpus, labels: String = labels) throws -> Report {
            let result = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(),
                                                             ["eval", log, "--labels", labels, "--json"] + arguments)
            try #require(result.status == 0, "eval failed: \(result.stderr)")
            return try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        }

        /// The bar: at least 95% of the incident lines flagged, at most 2% of the routine ones.
        @Test func theRulesAloneFlagTheShippedIncidentsAndLeaveTheRoutineAlone() throws {
            let report = try eval(["--rules-only"])
            let lines = report.score.lines
            print("eval --rules-only on the shipped corpus: recall \(lines.recall.count)/\(lines.recall.of), false positives "
                  + "\(lines.falsePositiveRate.count)/\(lines.falsePositiveRate.of)")
            #expect(report.model == nil && report.modelCalls == 0)
            #expect(report.score.entries > 4000 && lines.recall.of >= 150)
            #expect(try #require(lines.recall.value) >= 0.95)
            #expect(try #require(lines.falsePositiveRate.value) <= 0.02)
            #expect(report.score.burstEvents >= 1, "the brute force is a burst of sshd errors")
            #expect(report.score.mistakes.allSatisfy { $0.kind != "false-alarm" || $0.label == "normal" })

            let text = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(),
                                                           ["eval", Self.corpus, "--labels", Self.labels, "--rules-only"])
            #expect(text.status == 0 && text.stdout.contains("judged by the rules alone") && text.stdout.contains("false positives "), "\(text)")
        }

        /// A model a log line has talked into calling everything normal: every verdict comes back "normal", and the
        /// lines a signature knows keep their floor.
        @Test func aModelSteeredToSayNormalCannotLowerASignaturesFloor() async throws {
            let port = freePort()
            let (upstream, _) = try await TestEnvironment.startHelper("broken-upstream.py", ["\(port)", "normal-verdicts"])
            defer { TestEnvironment.end(upstream) }
            let steered = try eval(["--trigger-url", "http://127.0.0.1:\(port)"])
            let rules = try eval(["--rules-only"])
            #expect(steered.modelCalls > 0 && steered.classificationFailures == 0, "the model was asked, and answered")
            #expect(steered.score.eventsBySource["model"] == nil, "no verdict of its own raised an event")
            #expect(steered.score.lines.severityRecall.count == rules.score.lines.severityRecall.count,
                    "the steered model lowered \(rules.score.lines.severityRecall.count - steered.score.lines.severityRecall.count) signature floors")
            #expect(steered.score.lines.recall.count == rules.score.lines.recall.count)
            #expect(try #require(steered.score.lines.severityRecall.value) >= 0.95, "the labels' own bar, not only the rules' run")
        }

        @Test func theOperatorsOverridesApplyAndBadOnesAreRefused() throws {
            let directory = try TestEnvironment.temporaryDirectory("eval-overrides")
            var config = DaemonConfiguration()
            config.monitoring.signatures = ["auth-failure": .init(enable: false)]
            let configFile = directory + "/config.json"
            try config.encodedJSON().write(toFile: configFile, atomically: true, encoding: .utf8)
            let all = try eval(["--rules-only"])
            let withoutLogins = try eval(["--rules-only", "--config", configFile, "--show", "100"])
            let missed = withoutLogins.score.mistakes.filter { $0.kind == "missed" }
            #expect(withoutLogins.score.lines.recall.count < all.score.lines.recall.count)
            #expect(missed.contains { $0.message.hasPrefix("Failed password for") }, "\(missed.map(\.message))")
            #expect(withoutLogins.score.eventsBySource["signature:auth-failure"] == nil)

            let daemon = try TestEnvironment.daemonExecutable()
            config.monitoring.signatures = ["auth-failures": .init(enable: false)]
            try config.encodedJSON().write(toFile: configFile, atomically: true, encoding: .utf8)
            let unknown = try TestEnvironment.runToCompletion(daemon, ["eval", Self.corpus, "--labels", Self.labels, "--rules-only", "--config", configFile])
            #expect(unknown.status == 1 && unknown.stderr.contains("monitoring.signatures.auth-failures") && unknown.stderr.contains("auth-failure,"),
                    "\(unknown.stderr)")
            let checked = try TestEnvironment.runToCompletion(daemon, ["config", "check", configFile])
            #expect(checked.status == 1 && checked.stderr.contains("monitoring.signatures.auth-failures"), "\(checked.stderr)")

            let badLabels = directory + "/labels.csv"
            try "line,label\n3,error\n4,severe\n".write(toFile: badLabels, atomically: true, encoding: .utf8)
            let bad = try TestEnvironment.runToCompletion(daemon, ["eval", Self.corpus, "--labels", badLabels, "--rules-only"])
            #expect(bad.status == 1 && bad.stderr.contains("labels.csv line 3: 'severe' is not a label"), "\(bad.stderr)")
            try "line,label\n3,error\n900000,error\n".write(toFile: badLabels, atomically: true, encoding: .utf8)
            let beyond = try TestEnvironment.runToCompletion(daemon, ["eval", Self.corpus, "--labels", badLabels, "--rules-only"])
            #expect(beyond.status == 1 && beyond.stderr.contains("900000"), "\(beyond.stderr)")
        }

        /// The test model as the trigger model, on a small slice: it is asked once per batch of new templates, and
        /// whatever it says, the signature lines keep their floor. `ai-sysadmin events` names what set each severity.
        @Test func theTestModelIsJudgedOnTheSameLabelsAndEventsNameTheirSource() async throws {
            let directory = try TestEnvironment.temporaryDirectory("eval-model")
            let slice = directory + "/slice.log", sliceLabels = directory + "/labels.csv"
            let lines = [
                "2026-11-30T03:00:00.000000+00:00 web1 CRON[100]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
                "2026-11-30T03:00:01.000000+00:00 web1 kernel: Out of memory: Killed process 2203 (gunicorn) total-vm:16934412kB, anon-rss:15573284kB",
                "2026-11-30T03:00:02.000000+00:00 web1 systemd[1]: Started session-12.scope - Session 12 of User alice.",
                "2026-11-30T03:00:03.000000+00:00 web1 sshd[500]: Failed password for root from 203.0.113.45 port 52000 ssh2",
                "2026-11-30T03:00:04.000000+00:00 web1 CRON[101]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
            ]
            try (lines.joined(separator: "\n") + "\n").write(toFile: slice, atomically: true, encoding: .utf8)
            try "line,label\n2,critical\n4,warning\n".write(toFile: sliceLabels, atomically: true, encoding: .utf8)
            let port = freePort()
            let server = Process()
            server.executableURL = URL(fileURLWithPath: try TestEnvironment.llamaServer())
            server.arguments = ["-m", try TestEnvironment.model(), "--host", "127.0.0.1", "--port", "\(port)", "-c", "4096", "-np", "1", "-t", "2", "--no-webui"]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            defer { TestEnvironment.end(server) }
            try #require(await eventually(timeout: .seconds(60)) {
                (try? await UpstreamHTTPClient.shared.execute(.init(url: "http://127.0.0.1:\(port)/health")))?.status == 200
            }, "llama-server did not come up")

            let report = try eval(["--trigger-url", "http://127.0.0.1:\(port)"], log: slice, labels: sliceLabels)
            #expect(report.model == "http://127.0.0.1:\(port)" && report.score.entries == 5)
            #expect(report.modelCalls >= 1 && report.classificationFailures == 0)
            #expect(report.score.lines.severityRecall.count == 2, "the OOM kill and the failed login keep their floors whatever the model says")

            let store = directory + "/store.sqlite"
            let replayed = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["replay", slice, "--rules-only", "--store", store])
            #expect(replayed.status == 0, "\(replayed.stderr)")
            let events = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["events", "--store", store])
            #expect(events.stdout.contains("[signature:oom-killer]") && events.stdout.contains("[signature:auth-failure]"), "\(events.stdout)")
        }
    }
}
