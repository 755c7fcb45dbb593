import Chat
import Foundation
import MonitoringService
import ServiceLifecycle
import Store
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// One priority order on the meta model for the daemon and the gateway: the gateway's requests to the raw meta
    /// model take their turn on the daemon's slots, interactive before background, and give it back when done.
    @Suite struct SlotTurnTests {
        /// The daemon's agent socket with its slots of the meta model, in this process.
        struct Agent {
            let slots: ModelSlots
            let group: ServiceGroup
            let task: Task<Void, any Error>

            static func start(_ config: DaemonConfiguration) async throws -> Agent {
                let store = try SQLiteStore(path: config.storePath)
                let slots = ModelSlots(capacity: 1)
                let agent = ChatAgent(configuration: config, store: store, toolbox: HostToolbox(store: store, systemd: nil), slots: slots,
                                      logger: TestEnvironment.logger, propose: { _, _, _ in nil })
                let group = ServiceGroup(services: [AgentServer(agent: agent, configuration: config, logger: TestEnvironment.logger)],
                                         logger: TestEnvironment.logger)
                let task = Task { try await group.run() }
                try #require(await eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: config.agentSocketPath) })
                return Agent(slots: slots, group: group, task: task)
            }

            func stop() async throws {
                await group.triggerGracefulShutdown()
                try await task.value
            }
        }

        private func turn(_ config: DaemonConfiguration, _ priority: String) async throws -> HTTPStreamingResponse {
            try await UpstreamHTTPClient.shared.stream(UpstreamClient.HTTPRequest(
                method: .post, url: "http://localhost/slots/meta?priority=\(priority)",
                timeouts: .init(connect: .seconds(1), total: nil, idle: nil), unixSocketPath: config.agentSocketPath))
        }

        /// Whether the slot comes free: a periodic request gets it (it never does while a turn is kept).
        private func slotComesFree(_ slots: ModelSlots) async -> Bool {
            let acquired = Gate()
            let waiter = Task {
                await slots.acquire(.periodic)
                acquired.open()
                await slots.release()
            }
            let free = await acquired.waitAsync(timeout: .seconds(10))
            if !free { waiter.cancel() }
            return free
        }

        @Test func interactiveTurnsComeBeforeBackgroundOnesAndEveryTurnIsGivenBack() async throws {
            let config = try TestEnvironment.configuration(layers: [.meta], label: "turns")
            let agent = try await Agent.start(config)
            await agent.slots.acquire(.interactive)
            let order = LineCollector()
            let background = Task {
                let held = try await turn(config, "background")
                order.append("background")
                return held
            }
            try #require(await eventually(timeout: .seconds(10)) { await agent.slots.queued == 1 })
            let interactive = Task {
                let held = try await turn(config, "interactive")
                order.append("interactive")
                return held
            }
            try #require(await eventually(timeout: .seconds(10)) { await agent.slots.queued == 2 })
            await agent.slots.release()
            let first = try await interactive.value
            #expect(order.all == ["interactive"], "the background turn came first")
            first.body.cancel(reason: "done")
            let second = try await background.value
            #expect(order.all == ["interactive", "background"])
            second.body.cancel(reason: "done")
            #expect(await slotComesFree(agent.slots), "a turn the gateway let go of kept its slot")
            try await agent.stop()
        }

        /// The gateway waits for its turn before it asks the model, and gives the turn back when the answer is in.
        @Test func theGatewayAsksTheModelOnlyInItsTurn() async throws {
            let port = freePort()
            let (upstream, lines) = try await TestEnvironment.startHelper("broken-upstream.py", ["\(port)", "tool-calls"])
            defer { TestEnvironment.end(upstream) }
            var agentConfig: DaemonConfiguration?
            let running = try await GatewayTests.Running.start(withUpstream: false) {
                $0.models.meta.backend = .remote
                $0.models.meta.url = "http://127.0.0.1:\(port)"
                $0.models.meta.apiKeyFile = nil
                $0.api.maxInFlight = 4
                agentConfig = $0
            }
            let agent = try await Agent.start(try #require(agentConfig))
            await agent.slots.acquire(.interactive)
            let asked = Task {
                try await UpstreamHTTPClient.shared.execute(UpstreamClient.HTTPRequest(
                    method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")],
                    body: Data(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"weather?"}]}"#.utf8)))
            }
            try #require(await eventually(timeout: .seconds(10)) { await agent.slots.queued == 1 }, "the gateway did not wait for its turn")
            #expect(!lines.all.contains("request /v1/chat/completions"), "the gateway asked the model before its turn")
            await agent.slots.release()
            #expect(try await asked.value.status == 200)
            #expect(lines.all.contains("request /v1/chat/completions"))
            #expect(await slotComesFree(agent.slots), "the gateway kept its turn after the answer")
            try await agent.stop()
            try await running.stop()
        }
    }
}
