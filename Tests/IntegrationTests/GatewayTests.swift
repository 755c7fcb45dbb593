import APIGateway
import Foundation
import Hummingbird
import Logging
import ModelSupervisor
import ServiceLifecycle
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

private typealias UpstreamRequest = UpstreamClient.HTTPRequest

extension IntegrationTests {
    /// `ai-sysadmin-api` in front of a real llama-server (the supervisor's meta layer), spoken to with raw HTTP
    /// and with the official openai Python client.
    @Suite struct GatewayTests {
        /// A supervisor (meta only) and the gateway in one service group.
        struct Running {
            let configuration: DaemonConfiguration
            let gateway: Gateway
            let group: ServiceGroup
            let task: Task<Void, any Error>
            let supervisor: ModelSupervisor?

            var base: String { "http://127.0.0.1:\(configuration.api.port)" }

            static func start(withUpstream: Bool = true, logger: Logger = TestEnvironment.logger,
                              _ adjust: (inout DaemonConfiguration) -> Void = { _ in }) async throws -> Running {
                var config = try TestEnvironment.configuration(layers: [.meta], label: "gateway")
                config.api.port = freePort()
                adjust(&config)
                let gateway = try Gateway(configuration: config, logger: logger)
                var services: [any Service] = [gateway.makeApplication()]
                var supervisor: ModelSupervisor?
                if withUpstream {
                    let started = ModelSupervisor(configuration: config, logger: TestEnvironment.logger, unitRestarter: nil)
                    services.append(started)
                    supervisor = started
                }
                let group = ServiceGroup(services: services, logger: TestEnvironment.logger)
                let task = Task { try await group.run() }
                let running = Running(configuration: config, gateway: gateway, group: group, task: task, supervisor: supervisor)
                let http = UpstreamHTTPClient.shared
                try #require(await eventually(timeout: .seconds(10)) {
                    (try? await http.execute(UpstreamRequest(url: running.base + "/health")))?.status == 200
                }, "the gateway did not start listening")
                if withUpstream {
                    try #require(await eventually(timeout: .seconds(90)) { supervisor?.status().allReady == true },
                                 "the meta model did not become Ready")
                }
                return running
            }

            func stop() async throws {
                await group.triggerGracefulShutdown()
                try await task.value
            }
        }

        let http = UpstreamHTTPClient.shared

        private func post(_ url: String, _ body: String, contentType: String = "application/json",
                          headers: [(name: String, value: String)] = []) async throws -> UpstreamClient.HTTPResponse {
            try await http.execute(UpstreamRequest(method: .post, url: url, headers: [("Content-Type", contentType)] + headers,
                                               body: Data(body.utf8)))
        }

        /// The `error` object of an OpenAI-shaped error body.
        private func errorObject(_ response: UpstreamClient.HTTPResponse) throws -> [String: JSONValue] {
            let json = try JSONDecoder().decode(JSONValue.self, from: response.body)
            guard case .object(let top) = json, case .object(let error)? = top["error"] else {
                Issue.record("not an OpenAI error body: \(String(decoding: response.body, as: UTF8.self))")
                return [:]
            }
            #expect(error["message"] != nil && error["type"] != nil)
            return error
        }

        /// The agent's id without a daemon behind it: listed, refused for routes it does not serve, and a 503 that
        /// says the daemon is not there rather than a hang or a 502. Turned off, the id is gone.
        @Test func theAgentModelIdWithoutADaemonSaysWhy() async throws {
            let running = try await Running.start(withUpstream: false)
            let models = String(decoding: try await http.execute(UpstreamRequest(url: running.base + "/v1/models")).body, as: UTF8.self)
            #expect(models.contains(#""id":"ai-sysadmin""#) && models.contains(#""id":"ai-sysadmin-meta""#))
            let chat = try await post(running.base + "/v1/chat/completions",
                                      #"{"model":"ai-sysadmin","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
            #expect(chat.status == 503 && chat.header("Retry-After") == "5")
            #expect(try errorObject(chat)["code"] == .string("agent_unavailable"))
            let completion = try await post(running.base + "/v1/completions", #"{"model":"ai-sysadmin","prompt":"hi"}"#)
            #expect(completion.status == 400)
            #expect(try errorObject(completion)["code"] == .string("unsupported_for_agent"))
            try await running.stop()

            let off = try await Running.start(withUpstream: false) { $0.api.agentModelId = nil }
            let listed = String(decoding: try await http.execute(UpstreamRequest(url: off.base + "/v1/models")).body, as: UTF8.self)
            #expect(!listed.contains(#""id":"ai-sysadmin""#))
            let refused = try await post(off.base + "/v1/chat/completions", #"{"model":"ai-sysadmin","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(refused.status == 404)
            try await off.stop()
        }

        @Test func modelsAndHealthAnswerAtOnceWhileTheUpstreamIsDown() async throws {
            let running = try await Running.start(withUpstream: false)
            let models = try await http.execute(UpstreamRequest(url: running.base + "/v1/models"))
            #expect(models.status == 200)
            #expect(String(decoding: models.body, as: UTF8.self).contains(#""id":"ai-sysadmin-meta""#))
            #expect(try await http.execute(UpstreamRequest(url: running.base + "/ready")).status == 503)

            let chat = try await post(running.base + "/v1/chat/completions",
                                      #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(chat.status == 503)
            #expect(chat.header("Retry-After") == "5")
            #expect(try errorObject(chat)["code"] == "upstream_unavailable")
            try await running.stop()
        }

        @Test func chatPassesThroughPlainAndStreamed() async throws {
            let running = try await Running.start()
            #expect(try await http.execute(UpstreamRequest(url: running.base + "/ready")).status == 200)
            let plain = try await post(running.base + "/v1/chat/completions",
                                       #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":8}"#)
            #expect(plain.status == 200)
            #expect(plain.header("X-Request-Id") != nil)
            let completion = try JSONDecoder().decode(ChatCompletion.self, from: plain.body)
            #expect(!(completion.content ?? "").isEmpty)

            let stream = try await http.stream(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")],
                body: Data(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"stream":true}"#.utf8)))
            #expect(stream.header("Content-Type") == "text/event-stream")
            #expect(stream.header("X-Accel-Buffering") == "no")
            var events: [ServerSentEvent] = []
            for try await item in stream.serverSentEvents {
                if case .event(let event) = item { events.append(event) }
            }
            #expect(events.last?.isDone == true)
            #expect(events.count >= 3)

            // Usage from a stream arrives only with include_usage; the gateway counts it while passing it on.
            let withUsage = try await http.stream(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")],
                body: Data(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#.utf8)))
            var streamedUsage: Usage?
            for try await item in withUsage.serverSentEvents {
                if case .event(let event) = item, !event.isDone,
                   let chunk = try? JSONDecoder().decode(ChatCompletionChunk.self, from: Data(event.data.utf8)), chunk.usage != nil {
                    streamedUsage = chunk.usage
                }
            }
            let plainUsage = try #require(completion.usage)
            let streamUsage = try #require(streamedUsage, "the usage chunk did not reach the client")

            let metrics = String(decoding: try await http.execute(UpstreamRequest(url: running.base + "/metrics")).body, as: UTF8.self)
            #expect(metrics.contains(#"ai_gateway_requests_total{route="/v1/chat/completions",status="200"} 3"#), "\(metrics)")
            #expect(metrics.contains(#"ai_gateway_time_to_first_byte_seconds_count{route="/v1/chat/completions"} 3"#))
            #expect(metrics.contains(#"ai_gateway_request_duration_seconds_count{route="/v1/chat/completions"} 3"#))
            let completionTokens = metrics.split(separator: "\n").first { $0.hasPrefix("ai_gateway_completion_tokens_total ") }
                .flatMap { Double($0.split(separator: " ")[1]) }
            #expect(completionTokens == Double(plainUsage.completionTokens + streamUsage.completionTokens),
                    "completion tokens: \(String(describing: completionTokens))")
            #expect(metrics.contains("ai_gateway_queue_depth 0"))
            try await running.stop()
        }

        /// The meta model's requests go over kept-alive upstream connections: one per event loop at most for a
        /// client that asks one thing at a time, not one per request. (llama-server closes its side after a stream,
        /// so a stream's connection is not reused; the request after one still gets a working connection.)
        @Test func upstreamConnectionsAreKeptAndReused() async throws {
            let running = try await Running.start()
            let url = running.base + "/v1/chat/completions"
            for index in 0..<12 {
                let response = try await post(url, #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":2}"#)
                #expect(response.status == 200, "request \(index): \(String(decoding: response.body, as: UTF8.self).prefix(300))")
            }
            let cores = ProcessInfo.processInfo.activeProcessorCount
            #expect((1...cores).contains(running.gateway.upstreamConnectionsOpened),
                    "12 requests opened \(running.gateway.upstreamConnectionsOpened) upstream connections (event loops: \(cores))")
            for streamed in [true, false, true, false] {
                let body = #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":\#(streamed)}"#
                #expect(try await post(url, body).status == 200)
            }
            let metrics = String(decoding: try await http.execute(UpstreamRequest(url: running.base + "/metrics")).body, as: UTF8.self)
            #expect(metrics.contains("ai_gateway_upstream_connections_opened_total \(running.gateway.upstreamConnectionsOpened)"), "\(metrics)")
            try await running.stop()
        }

        /// Every open connection holds one of llama-server's few HTTP threads (slots + 2), which its health probe
        /// and the daemon need too: the loops' pools together keep no more idle connections than the model has
        /// slots, however many loops the clients' connections were spread over.
        @Test func idleUpstreamConnectionsStayWithinTheModelsSlots() async throws {
            let running = try await Running.start { $0.api.maxInFlight = 1 }
            let url = running.base + "/v1/chat/completions"
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await post(url, #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":2}"#).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 8))
            // Connections go back to their pool before the answer is written, so the count is final here.
            #expect(running.gateway.upstreamConnectionsIdle == 1, "\(running.gateway.upstreamConnectionsIdle) idle connections for 1 slot")
            try await running.stop()
        }

        /// `ai-sysadmin-api` as its unit starts it, against an upstream that is not there; answering `/health`.
        private func launchGatewayExecutable(_ name: String) async throws -> (gateway: Process, port: Int) {
            let binary = URL(fileURLWithPath: try TestEnvironment.daemonExecutable()).deletingLastPathComponent()
                .appendingPathComponent("ai-sysadmin-api").path
            let state = try TestEnvironment.temporaryDirectory(name)
            let port = freePort()
            let config = #"{"stateDirectory":"\#(state)","models":{"meta":{"backend":"remote","url":"http://127.0.0.1:\#(freePort())"}},"api":{"port":\#(port),"supervised":false,"maxInFlight":1}}"#
            try config.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
            let gateway = Process()
            gateway.executableURL = URL(fileURLWithPath: binary)
            gateway.arguments = ["--config", state + "/config.json"]
            gateway.standardError = FileHandle.nullDevice
            try gateway.run()
            let answering = await eventually(timeout: .seconds(20)) {
                (try? await http.execute(UpstreamRequest(url: "http://127.0.0.1:\(port)/health")))?.status == 200
            }
            if !answering { kill(gateway.processIdentifier, SIGKILL) }
            try #require(answering, "ai-sysadmin-api did not answer /health within 20 s")
            return (gateway, port)
        }

        /// `systemctl stop` sends SIGTERM: the gateway stops at once, it does not wait for systemd's SIGKILL.
        @Test func theGatewayExecutableStopsOnSIGTERM() async throws {
            let (gateway, port) = try await launchGatewayExecutable("gw-term")
            defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
            // A request through the proxy path first, so its connection pool exists when the signal comes.
            let chat = try await post("http://127.0.0.1:\(port)/v1/chat/completions", #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(chat.status == 503)
            kill(gateway.processIdentifier, SIGTERM)
            #expect(await eventually(timeout: .seconds(5)) { !gateway.isRunning }, "still running 5 s after SIGTERM")
            #expect(!gateway.isRunning && gateway.terminationStatus == 0)
        }

        /// All of Foundation (with ICU's data) would be about a fifth of the gateway's memory: its modules import
        /// FoundationEssentials, and Hummingbird's FullFoundation trait is off (benchmarks/README.md).
        @Test func theGatewayLoadsFoundationEssentialsOnly() async throws {
            let (gateway, port) = try await launchGatewayExecutable("gw-essentials")
            defer { kill(gateway.processIdentifier, SIGKILL) }
            let chat = try await post("http://127.0.0.1:\(port)/v1/chat/completions", #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(chat.status == 503)
            // Read to the end: Foundation's file readers stop after the first read of a /proc file (its size is 0).
            let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(gateway.processIdentifier)/maps"))
            let maps = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
            #expect(maps.contains("libFoundationEssentials.so"), "the check looks at the right process")
            let loaded = ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so"].filter(maps.contains)
            #expect(loaded.isEmpty, "ai-sysadmin-api loaded \(loaded)")
        }

        @Test func everyRequestGetsOneLogLineWithModelAndTokens() async throws {
            let store = RecordingLogHandler.Store()
            let running = try await Running.start(logger: Logger(label: "gateway-log") { _ in RecordingLogHandler(store: store) })
            let plain = try await post(running.base + "/v1/chat/completions",
                                       #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#)
            let usage = try #require(try JSONDecoder().decode(ChatCompletion.self, from: plain.body).usage)
            let requestLines = { store.all.filter { $0.message == "request" && $0.metadata["ai.request.path"] == "/v1/chat/completions" } }
            let plainLine = try #require(requestLines().first { $0.metadata["ai.request.id"] == plain.header("X-Request-Id") })
            #expect(plainLine.metadata["ai.response.status"] == "200")
            #expect(plainLine.metadata["ai.request.model"] == "ai-sysadmin-meta")
            #expect(plainLine.metadata["ai.tokens.completion"] == "\(usage.completionTokens)")
            #expect(plainLine.metadata["ai.tokens.prompt"] == "\(usage.promptTokens)")

            // A stream's line is written when it ends, with its duration and the usage it reported.
            let stream = try await http.stream(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")],
                body: Data(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}"#.utf8)))
            let id = try #require(stream.header("X-Request-Id"))
            for try await _ in stream.body {}
            #expect(await eventually(timeout: .seconds(5)) { requestLines().contains { $0.metadata["ai.request.id"] == id } })
            let streamLine = try #require(requestLines().first { $0.metadata["ai.request.id"] == id })
            #expect(streamLine.metadata["ai.tokens.completion"] != nil)
            let head = try #require(streamLine.metadata["ai.response.head_ms"].flatMap(Double.init))
            let duration = try #require(streamLine.metadata["ai.response.duration_ms"].flatMap(Double.init))
            #expect(duration >= head)
            #expect(requestLines().count == 2, "one line per request")
            try await running.stop()
        }

        @Test func badInputGetsAPreciseOpenAIError() async throws {
            let running = try await Running.start(withUpstream: false) { $0.api.maxBodyBytes = 4096 }
            let url = running.base + "/v1/chat/completions"

            let malformed = try await post(url, #"{"model": "ai-sysadmin-meta", "messages": [}"#)
            #expect(malformed.status == 400)
            #expect(try errorObject(malformed)["code"] == "invalid_json")

            let wrongType = try await post(url, "{}", contentType: "text/plain")
            #expect(wrongType.status == 400)
            #expect(try errorObject(wrongType)["code"] == "invalid_content_type")

            let noMessages = try await post(url, #"{"model":"ai-sysadmin-meta"}"#)
            #expect(noMessages.status == 400)
            #expect(try errorObject(noMessages)["code"] == "missing_messages")

            let unknown = try await post(url, #"{"model":"gpt-17","messages":[]}"#)
            #expect(unknown.status == 404)
            #expect(try errorObject(unknown)["code"] == "model_not_found")

            let huge = try await post(url, #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":""#
                                      + String(repeating: "x", count: 10_000) + #""}]}"#)
            #expect(huge.status == 413)
            #expect(try errorObject(huge)["code"] == "request_too_large")
            try await running.stop()
        }

        @Test func requireAuthChecksBearerAndXAPIKey() async throws {
            let keyFile = try TestEnvironment.temporaryDirectory("apikeys") + "/keys"
            try "# operators\nkey-one\nkey-two\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
            let running = try await Running.start(withUpstream: false) {
                $0.api.requireAuth = true
                $0.api.apiKeyFile = keyFile
            }
            let models = running.base + "/v1/models"
            let anonymous = try await http.execute(UpstreamRequest(url: models))
            #expect(anonymous.status == 401)
            #expect(try errorObject(anonymous)["code"] == "invalid_api_key")
            #expect(try await http.execute(UpstreamRequest(url: models, headers: [("Authorization", "Bearer key-two")])).status == 200)
            #expect(try await http.execute(UpstreamRequest(url: models, headers: [("x-api-key", "key-one")])).status == 200)
            #expect(try await http.execute(UpstreamRequest(url: models, headers: [("Authorization", "Bearer key-on")])).status == 401)
            #expect(try await http.execute(UpstreamRequest(url: models, headers: [("Authorization", "Bearer # operators")])).status == 401)
            #expect(try await http.execute(UpstreamRequest(url: running.base + "/health")).status == 200)
            #expect(try await http.execute(UpstreamRequest(url: running.base + "/metrics")).status == 401)
            #expect(try await http.execute(UpstreamRequest(url: running.base + "/metrics", headers: [("x-api-key", "key-one")])).status == 200)
            try await running.stop()
        }

        @Test func corsIsGrantedToConfiguredOriginsOnly() async throws {
            let keyFile = try TestEnvironment.temporaryDirectory("corskeys") + "/keys"
            try "k\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
            let running = try await Running.start(withUpstream: false) {
                $0.api.corsOrigins = ["https://chat.example.org"]
                $0.api.requireAuth = true
                $0.api.apiKeyFile = keyFile
            }
            let models = running.base + "/v1/models"
            let preflight = try await http.execute(UpstreamRequest(method: .options, url: models, headers: [
                ("Origin", "https://chat.example.org"), ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "authorization"),
            ]))
            #expect(preflight.status == 204, "a preflight carries no key and must not need one")
            #expect(preflight.header("Access-Control-Allow-Origin") == "https://chat.example.org")
            #expect(preflight.header("Access-Control-Allow-Headers")?.contains("Authorization") == true)

            let allowed = try await http.execute(UpstreamRequest(url: models, headers: [
                ("Origin", "https://chat.example.org"), ("Authorization", "Bearer k"),
            ]))
            #expect(allowed.status == 200)
            #expect(allowed.header("Access-Control-Allow-Origin") == "https://chat.example.org")
            let refused = try await http.execute(UpstreamRequest(url: models, headers: [("Origin", "https://chat.example.org")]))
            #expect(refused.status == 401)
            #expect(refused.header("Access-Control-Allow-Origin") == "https://chat.example.org")

            let stranger = try await http.execute(UpstreamRequest(url: models, headers: [
                ("Origin", "https://evil.example"), ("Authorization", "Bearer k"),
            ]))
            #expect(stranger.header("Access-Control-Allow-Origin") == nil)
            try await running.stop()
        }

        @Test func requireAuthWithoutAnyKeyRefusesToStart() throws {
            var config = DaemonConfiguration()
            config.api.requireAuth = true
            #expect {
                _ = try Gateway(configuration: config, logger: TestEnvironment.logger)
            } throws: { "\($0)".contains("api.requireAuth") }
        }

        /// Streams a long generation through the gateway; `afterThreeEvents` runs once three events arrived.
        private func longStream(_ running: Running, afterThreeEvents: @escaping @Sendable () -> Void) async throws -> [ServerSentEvent] {
            let body = #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"Write a long story."}],"max_tokens":3500,"ignore_eos":true,"stream":true}"#
            let stream = try await http.stream(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")],
                body: Data(body.utf8)))
            var events: [ServerSentEvent] = []
            for try await item in stream.serverSentEvents {
                guard case .event(let event) = item else { continue }
                events.append(event)
                if events.count == 3 { afterThreeEvents() }
            }
            return events
        }

        private func metaSlotIsProcessing(_ running: Running) async throws -> Bool {
            let endpoint = try #require(await running.supervisor?.client(for: .meta)).endpoint
            let response = try await http.execute(UpstreamRequest(
                url: endpoint.url("/slots"), headers: [("Authorization", "Bearer \(endpoint.apiKey ?? "")")]))
            return String(decoding: response.body, as: UTF8.self).contains(#""is_processing":true"#)
        }

        @Test func aClientThatGoesAwayFreesTheModelsSlot() async throws {
            let running = try await Running.start { $0.models.meta.contextSize = 4096 }
            let streaming = Gate()
            let client = Task { try await longStream(running) { streaming.open() } }
            try #require(await streaming.waitAsync(timeout: .seconds(60)))
            try #require(try await metaSlotIsProcessing(running))
            client.cancel()
            _ = await client.result
            #expect(await eventually(timeout: .seconds(3)) { (try? await metaSlotIsProcessing(running)) == false },
                    "llama-server kept generating for a client that had gone")
            try await running.stop()
        }

        @Test func anUpstreamThatDiesMidStreamEndsTheStreamWithAnErrorEvent() async throws {
            let running = try await Running.start { $0.models.meta.contextSize = 4096 }
            let pid = try #require(running.supervisor?.status().models.first?.pid)
            let events = try await longStream(running) { kill(pid, SIGKILL) }
            let last = try #require(events.last)
            #expect(last.data.contains("upstream_stream_error"), "last event: \(last.data.prefix(200))")
            #expect(!events.contains { $0.isDone })
            #expect(try await http.execute(UpstreamRequest(url: running.base + "/health")).status == 200)
            try await running.stop()
        }

        @Test func requestsBeyondTheSlotsQueueAndOverflowGets429() async throws {
            let running = try await Running.start {
                $0.models.meta.contextSize = 4096
                $0.api.maxInFlight = 1
                $0.api.maxQueue = 1
            }
            let holding = Gate()
            let first = Task { try await longStream(running) { holding.open() } }
            try #require(await holding.waitAsync(timeout: .seconds(60)))
            let chat = #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#
            let url = running.base + "/v1/chat/completions"
            let queued = Task { try await post(url, chat) }
            try #require(await eventually(timeout: .seconds(10)) { running.gateway.load == (1, 1) },
                         "load is \(running.gateway.load), expected one in flight and one waiting")
            let overflow = try await post(url, chat)
            #expect(overflow.status == 429)
            #expect(overflow.header("Retry-After") == "1")
            #expect(try errorObject(overflow)["code"] == "queue_full")
            first.cancel()
            _ = await first.result
            #expect(try await queued.value.status == 200, "the queued request did not get the freed slot")
            try await running.stop()
        }

        @Test func theOfficialOpenAIClientWorks() async throws {
            let keyFile = try TestEnvironment.temporaryDirectory("sdkkeys") + "/keys"
            try "sdk-key\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
            let running = try await Running.start {
                $0.api.requireAuth = true
                $0.api.apiKeyFile = keyFile
            }
            struct Result: Decodable {
                struct NotFound: Decodable { let status: Int; let code: String? }
                let models: [String]
                let content: String?
                let streamed: [String]
                let not_found: NotFound?
            }
            let result = try await TestEnvironment.pythonCheck("openai-client-check.py", [running.base + "/v1", "sdk-key", "ai-sysadmin-meta"],
                                                               as: Result.self)
            #expect(result.models == ["ai-sysadmin", "ai-sysadmin-meta"])
            #expect(!(result.content ?? "").isEmpty)
            #expect(!result.streamed.isEmpty)
            #expect(result.not_found?.status == 404 && result.not_found?.code == "model_not_found")
            try await running.stop()
        }
    }
}
