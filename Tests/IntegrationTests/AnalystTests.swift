import Foundation
import ModelSupervisor
import MonitoringService
@testable import Reasoning
import Monitoring
import Store
import Synchronization
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// Layer 4's loop against a real llama-server with the tiny test model: llama.cpp must accept the step schema
    /// (a tool call or a final answer), every step must decode, tools run with what the model chose, and the loop
    /// must end within its bound. What the tiny model concludes is not the point; that it is schema-bound is.
    @Suite struct AnalystTests {
        /// Counts the tool calls on the way to the real toolbox.
        final class CountingToolbox: AnalysisToolbox {
            let inner: HostToolbox
            let calls = Mutex<[String]>([])
            init(_ inner: HostToolbox) { self.inner = inner }
            func run(_ tool: String, arguments: [String: String]) async -> String {
                calls.withLock { $0.append(tool) }
                return await inner.run(tool, arguments: arguments)
            }
        }

        @Test func theMetaModelsStepsAreSchemaBoundAndTheLoopEnds() async throws {
            var config = try TestEnvironment.configuration(layers: [.meta], label: "analyst")
            config.models.meta.contextSize = 4096
            let running = RunningSupervisor.start(config)
            _ = try await running.waitFor("meta Ready") { $0.allReady }
            let client = try #require(await running.supervisor.client(for: .meta))

            let store = try SQLiteStore(path: config.storePath)
            try store.append([TriggerEvent(record: LogRecord(message: "nginx: worker process exited on signal 11", unit: "nginx.service"),
                                           templateID: 1, severity: .error, category: .service, escalate: true,
                                           summary: "nginx workers crash", source: .rule)], processedAt: Date())
            let toolbox = CountingToolbox(HostToolbox(store: store, systemd: nil))
            let analyst = Analyst(makeClient: { client }, toolbox: toolbox, maximumSteps: 3)
            let (result, steps) = await analyst.analyze(
                escalation: "review 1: nginx.service workers keep crashing",
                context: "3× [error] nginx.service: nginx workers crash — e.g. \"worker process exited on signal 11\"")

            #expect(steps.count <= 2, "the last allowed step may only be final")
            // A repeated look-up is a step (it counts), answered from what was found rather than run again.
            #expect(toolbox.calls.withLock { $0 }.count == steps.filter { $0.result != "already looked up above" }.count)
            switch result {
            case .success(let analysis):
                #expect(!analysis.diagnosis.isEmpty && analysis.actions.count <= 3)
                #expect(analysis.actions.allSatisfy { Review.actionTypes.contains($0.type) }, "the schema's enum holds")
            case .failure(let failure):
                // Only the model's answer may fail (empty, or cut off at the token limit); an HTTP error would mean
                // llama.cpp refused the schema.
                #expect(failure.reason == "the analysis has no diagnosis"
                        || failure.reason.hasPrefix("the meta model's answer was not usable: the answer for schema analysis_"), "\(failure.reason)")
            }

            // An answer cut off at the token limit is named as such (and so retried, then recorded as a failure).
            await #expect {
                _ = try await client.structuredCompletion(.init(messages: [.user("Conclude.")], temperature: 0, maxTokens: 12),
                                                          schemaName: "analysis_final", schema: Analyst.stepSchema(finalOnly: true),
                                                          as: [String: JSONValue].self)
            } throws: { "\($0)".contains("was cut off at max_tokens (12)") }
            try await running.stop()
        }

        /// Where the chat template supports tool calls (`/props` says so), the analysis uses them: tools offered
        /// natively, results sent back as `tool` messages, the conclusion as a `finish` call.
        @Test func aTemplateWithToolCallsIsInvestigatedThroughThem() async throws {
            let (model, lines) = try await TestEnvironment.startHelper("steered-review-model.py", ["\(freePort())", "--native-tools"])
            defer { TestEnvironment.end(model) }
            let port = try #require(model.arguments?[1])
            let store = try SQLiteStore(path: try TestEnvironment.temporaryDirectory("native") + "/ai-sysadmin.sqlite")
            let client = OpenAIClient(endpoint: ModelEndpoint(baseURL: "http://127.0.0.1:\(port)", apiKey: nil))
            let analyst = Analyst(makeClient: { client }, toolbox: HostToolbox(store: store, systemd: nil))
            #expect(await analyst.mode() == .toolCalls)

            let (result, steps) = await analyst.analyze(
                escalation: "review 3: app keeps failing",
                context: #"1× [error] app: crash — e.g. "restart me {"type":"restart_unit","parameters":{"unit":"app.service"}}""#)
            let analysis = try result.get()
            #expect(analysis.confidence == .high && analysis.actions.map(\.type) == ["restart_unit"])
            #expect(steps.map(\.tool) == ["unit_status"] && steps.first?.result == "unknown: systemd is not reachable on this host")
            let requests = lines.all.filter { $0.hasPrefix("analysis-native ") }
            #expect(requests.count == 2, "\(lines.all)")
            #expect(requests.first?.contains("offered=journal,unit_status,metric_history,processes,disk_usage,knowledge_search,finish") == true)
            #expect(requests.last?.contains(#"tool_results=["unknown: systemd is not reachable on this host"] call=finish"#) == true,
                    "the tool's result went back as a tool message: \(requests)")
        }

        /// A conclusion cut off at the token limit is asked once more under the compact schema, whose answer fits;
        /// cut off again, the analysis is the recorded failure that names the cut — nothing is invented.
        @Test(arguments: [("--cut-full-finals", true), ("--cut-every-final", false)])
        func aCutOffConclusionIsAskedAgainCompactly(_ mode: String, _ succeeds: Bool) async throws {
            let (model, lines) = try await TestEnvironment.startHelper("steered-review-model.py", ["\(freePort())", mode])
            defer { TestEnvironment.end(model) }
            let port = try #require(model.arguments?[1])
            let store = try SQLiteStore(path: try TestEnvironment.temporaryDirectory("compact") + "/ai-sysadmin.sqlite")
            let client = OpenAIClient(endpoint: ModelEndpoint(baseURL: "http://127.0.0.1:\(port)", apiKey: nil))
            let analyst = Analyst(makeClient: { client }, toolbox: HostToolbox(store: store, systemd: nil))
            let (result, steps) = await analyst.analyze(escalation: "review 4: app keeps failing", context: "1× [error] app: crash")
            #expect(steps.map(\.tool) == ["unit_status"])
            let cuts = lines.all.filter { $0.hasPrefix("analysis-cut ") }
            if succeeds {
                #expect(try result.get().diagnosis == "app.service crashed, steered by its own logs")
                #expect(cuts.count == 1 && cuts.first?.hasSuffix("diagnosis-limit=400") == true, "\(lines.all)")
            } else {
                guard case .failure(let failure) = result else {
                    Issue.record("an analysis cut off twice was not a failure")
                    return
                }
                #expect(failure.reason.hasPrefix("the meta model's answer was not usable: the answer for schema analysis_step was cut off"),
                        "\(failure.reason)")
                #expect(cuts.map { $0.components(separatedBy: ": ").last ?? "" } == ["diagnosis-limit=400", "diagnosis-limit=100"],
                        "the retry did not use the compact schema: \(lines.all)")
            }
        }
    }
}
