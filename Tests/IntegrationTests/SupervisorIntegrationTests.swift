import Foundation
import ModelSupervisor
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// The supervisor with real llama-server children and the SmolLM2-135M model.
    @Suite struct SupervisorIntegrationTests {
        struct Verdict: Decodable {
            let severity: String
            let escalate: Bool
        }

        static let verdictSchema: JSONValue = [
            "type": "object",
            "properties": [
                "severity": ["type": "string", "enum": ["normal", "warning", "critical"]],
                "escalate": ["type": "boolean"],
            ],
            "required": ["severity", "escalate"],
            "additionalProperties": false,
        ]

        @Test func allThreeBecomeReadyAndAnswerThroughTheirLayer() async throws {
            let config = try TestEnvironment.configuration(label: "three")
            let running = RunningSupervisor.start(config)
            let status = try await running.waitFor("all three Ready") { $0.allReady && $0.models.count == 3 }
            #expect(Set(status.models.map(\.layer)) == Set(ModelLayer.allCases))
            #expect(status.models.allSatisfy { $0.pid != nil && $0.restarts == 0 })

            for layer in ModelLayer.allCases {
                let client = try #require(await running.supervisor.client(for: layer))
                let completion = try await client.chatCompletion(.init(messages: [.user("Say hello.")], maxTokens: 8, seed: 1))
                #expect(completion.choices.count == 1, "layer \(layer)")
                #expect(!(completion.content ?? "").isEmpty, "layer \(layer) answered nothing")
                let props = try await client.props()
                #expect(props.contextSize == 1024, "layer \(layer) runs with n_ctx \(props.contextSize)")
                #expect(try await client.models().map(\.id).contains(layer.rawValue))
            }

            let review = try #require(await running.supervisor.client(for: .review))
            let verdict = try await review.structuredCompletion(
                .init(messages: [.system("Classify the log line."), .user("kernel: Out of memory: Killed process 4242 (nginx)")],
                      maxTokens: 64, seed: 1),
                schemaName: "verdict", schema: Self.verdictSchema, as: Verdict.self)
            #expect(["normal", "warning", "critical"].contains(verdict.severity))

            let tokens = try await review.tokenize("systemd[1]: nginx.service: Failed with result 'exit-code'.")
            #expect(tokens.count > 5)

            var streamed = ""
            for try await chunk in try await review.streamChatCompletion(.init(messages: [.user("Count to five.")], maxTokens: 16, seed: 1)) {
                streamed += chunk.choices.first?.delta.content ?? ""
            }
            #expect(!streamed.isEmpty)

            let pids = status.models.compactMap(\.pid)
            try await running.stop()
            #expect(await eventually(timeout: .seconds(10)) { pids.allSatisfy { !isAlive($0) } }, "servers survived shutdown: \(pids)")
            #expect(running.supervisor.status().models.allSatisfy { $0.state == .stopped })
        }

        @Test func modelServersRefuseRequestsWithoutTheirKey() async throws {
            let config = try TestEnvironment.configuration(layers: [.trigger], label: "key")
            let running = RunningSupervisor.start(config)
            try await running.waitFor("trigger Ready") { $0.allReady }
            let base = "http://127.0.0.1:\(config.models.trigger.port)"
            let http = UpstreamHTTPClient.shared
            let body = Data(#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#.utf8)

            let anonymous = try await http.execute(HTTPRequest(method: .post, url: base + "/v1/chat/completions",
                                                               headers: [("Content-Type", "application/json")], body: body))
            #expect(anonymous.status == 401)
            let wrongKey = try await http.execute(HTTPRequest(method: .post, url: base + "/v1/chat/completions",
                                                              headers: [("Authorization", "Bearer guess")], body: body))
            #expect(wrongKey.status == 401)
            #expect(try await http.execute(HTTPRequest(url: base + "/health")).status == 200)

            let keyFile = config.stateDirectory + "/keys/trigger.key"
            let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let client = try #require(await running.supervisor.client(for: .trigger))
            #expect(try await client.chatCompletion(.init(messages: [.user("hi")], maxTokens: 4)).choices.count == 1)
            try await running.stop()
        }

        @Test func aKilledServerIsRestartedAndCounted() async throws {
            let running = RunningSupervisor.start(try TestEnvironment.configuration(layers: [.trigger], label: "kill"))
            try await running.waitFor("trigger Ready") { $0.allReady }
            let first = try #require(running.model(.trigger)?.pid)
            kill(first, SIGKILL)
            let status = try await running.waitFor("trigger Ready again") { status in
                status.allReady && status.models.first?.pid != first
            }
            #expect(status.models.first?.restarts == 1)
            #expect(status.models.first?.lastError?.contains("killed by SIGKILL") == true)
            try await running.stop()
        }

        @Test func aStoppedServerIsDetectedAsHungAndReplaced() async throws {
            let running = RunningSupervisor.start(try TestEnvironment.configuration(layers: [.meta], label: "hung"))
            try await running.waitFor("meta Ready") { $0.allReady }
            let hung = try #require(running.model(.meta)?.pid)
            kill(hung, SIGSTOP)
            let status = try await running.waitFor("meta replaced") { status in
                status.allReady && status.models.first?.pid != hung
            }
            #expect(status.models.first?.restarts == 1)
            #expect(status.models.first?.lastError?.contains("stopped answering /health") == true)
            #expect(await eventually(timeout: .seconds(5)) { !isAlive(hung) }, "the hung server \(hung) was left running")
            try await running.stop()
        }

        @Test func aMissingModelFileFailsOnlyThatLayer() async throws {
            var config = try TestEnvironment.configuration(layers: [.trigger, .review], label: "missing")
            config.models.trigger.model = "/nonexistent/absent-model.gguf"
            let running = RunningSupervisor.start(config)
            let status = try await running.waitFor("trigger Failed, review Ready") { status in
                status.models.count == 2 && status.models.contains { $0.layer == .trigger && $0.state == .failed }
                    && status.models.contains { $0.layer == .review && $0.state == .ready }
            }
            let trigger = try #require(status.models.first { $0.layer == .trigger })
            #expect(trigger.lastError?.contains("model file /nonexistent/absent-model.gguf does not exist") == true)
            #expect(trigger.lastError?.contains("models.trigger.model") == true)
            #expect(trigger.pid == nil)
            try await running.stop()
        }

        @Test func aCrashLoopIsFailedWithTheServersOwnErrorAndStillRetried() async throws {
            var config = try TestEnvironment.configuration(layers: [.review], label: "crashloop")
            // A file that exists but is no GGUF model: llama-server starts, fails to load it, and exits.
            let garbage = config.stateDirectory + "/garbage.gguf"
            try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: garbage))
            config.models.review.model = garbage
            config.restart.crashLoopFailures = 3
            config.restart.initialBackoffSeconds = 0.1
            config.restart.maximumBackoffSeconds = 0.5
            let running = RunningSupervisor.start(config)
            let failed = try await running.waitFor("review Failed") { $0.models.first?.state == .failed }
            let review = try #require(failed.models.first)
            #expect(review.lastError?.hasPrefix("exited with status") == true, "\(review.lastError ?? "")")
            #expect(review.lastError?.contains("garbage.gguf") == true, "the error lacks llama-server's own words: \(review.lastError ?? "")")
            #expect(review.restarts >= 2)
            // Failed is not final: the daemon keeps trying at the cap.
            try await running.waitFor("another attempt after Failed") { ($0.models.first?.restarts ?? 0) > review.restarts }
            try await running.stop()
        }

        @Test func aTakenPortIsReportedAsSuch() async throws {
            let config = try TestEnvironment.configuration(layers: [.trigger], label: "port")
            let squatter = try #require(LoopbackSocket.bind(port: config.models.trigger.port, listenBacklog: 1))
            defer { close(squatter.fd) }

            let running = RunningSupervisor.start(config)
            let status = try await running.waitFor("trigger Failed") { $0.models.first?.state == .failed }
            let message = try #require(status.models.first?.lastError)
            #expect(message.contains("port \(config.models.trigger.port) on 127.0.0.1 is already in use"))
            #expect(message.contains("models.trigger.port"))
            try await running.stop()
        }

        @Test func aRemoteBackendPointingAtARunningServerWorks() async throws {
            let upstream = RunningSupervisor.start(try TestEnvironment.configuration(layers: [.meta], label: "upstream"))
            try await upstream.waitFor("upstream meta Ready") { $0.allReady }
            let upstreamConfig = upstream.supervisor.configuration

            var config = try TestEnvironment.configuration(layers: [.meta], label: "remote")
            config.models.meta.backend = .remote
            config.models.meta.url = "http://127.0.0.1:\(upstreamConfig.models.meta.port)/"
            config.models.meta.apiKeyFile = upstreamConfig.stateDirectory + "/keys/meta.key"
            let running = RunningSupervisor.start(config)
            let status = try await running.waitFor("remote meta Ready") { $0.allReady }
            #expect(status.models.first?.backend == .remote)
            #expect(status.models.first?.pid == nil)

            let client = try #require(await running.supervisor.client(for: .meta))
            #expect(client.endpoint.baseURL == "http://127.0.0.1:\(upstreamConfig.models.meta.port)")
            let answer = try await client.chatCompletion(.init(messages: [.user("Name a Linux init system.")], maxTokens: 8))
            #expect(answer.choices.count == 1)

            // The remote goes away: the remote layer notices and leaves Ready.
            try await upstream.stop()
            try await running.waitFor("remote meta no longer Ready", timeout: .seconds(30)) { !$0.allReady }
            try await running.stop()
        }

        @Test func cancellingAStreamFreesTheServersSlotPromptly() async throws {
            var config = try TestEnvironment.configuration(layers: [.meta], label: "cancel")
            config.models.meta.contextSize = 4096
            let running = RunningSupervisor.start(config)
            try await running.waitFor("meta Ready") { $0.allReady }
            let client = try #require(await running.supervisor.client(for: .meta))
            let endpoint = client.endpoint
            let http = UpstreamHTTPClient.shared
            // ignore_eos keeps the model generating for thousands of tokens, so only an abort frees the slot early.
            let body = Data(#"{"messages":[{"role":"user","content":"Write a long story."}],"max_tokens":3500,"ignore_eos":true,"stream":true}"#.utf8)
            let firstEvent = Gate()
            let streaming = Task {
                let response = try await http.stream(HTTPRequest(
                    method: .post, url: endpoint.url("/v1/chat/completions"),
                    headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(endpoint.apiKey ?? "")")], body: body))
                var events = 0
                for try await item in response.serverSentEvents {
                    if case .event(let event) = item {
                        #expect(!event.isDone, "the generation finished before it was cancelled")
                        events += 1
                        if events == 3 { firstEvent.open() }
                    }
                }
            }
            try #require(await firstEvent.waitAsync(timeout: .seconds(60)))
            try #require(try await slotIsProcessing(endpoint), "the slot should be busy while streaming")
            streaming.cancel()
            _ = await streaming.result
            let idle = await eventually(timeout: .seconds(3)) { (try? await slotIsProcessing(endpoint)) == false }
            #expect(idle, "llama-server kept generating after the client cancelled")
            try await running.stop()
        }

        private func slotIsProcessing(_ endpoint: ModelEndpoint) async throws -> Bool {
            struct Slot: Decodable {
                let isProcessing: Bool
                enum CodingKeys: String, CodingKey { case isProcessing = "is_processing" }
            }
            let response = try await UpstreamHTTPClient.shared.execute(HTTPRequest(
                url: endpoint.url("/slots"), headers: [("Authorization", "Bearer \(endpoint.apiKey ?? "")")]))
            try #require(response.status == 200, "/slots answered \(response.status)")
            return try JSONDecoder().decode([Slot].self, from: response.body).contains { $0.isProcessing }
        }
    }
}
