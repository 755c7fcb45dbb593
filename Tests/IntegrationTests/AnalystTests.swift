import Foundation
import ModelSupervisor
import Monitoring
import MonitoringService
import Store
import Synchronization
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
            #expect(toolbox.calls.withLock { $0 }.count == steps.count)
            switch result {
            case .success(let analysis):
                #expect(!analysis.diagnosis.isEmpty && analysis.actions.count <= 3)
                #expect(analysis.actions.allSatisfy { Review.actionTypes.contains($0.type) }, "the schema's enum holds")
            case .failure(let failure):
                // Only the checks after decoding may fail; an HTTP error would mean llama.cpp refused the schema.
                #expect(failure.reason == "the analysis has no diagnosis", "\(failure.reason)")
            }
            try await running.stop()
        }
    }
}
