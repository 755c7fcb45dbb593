import APIGateway
import Foundation
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

private typealias UpstreamRequest = UpstreamClient.HTTPRequest

extension IntegrationTests {
    /// The gateway in front of a deliberately broken upstream (`Tests/Support/broken-upstream.py`): the faults a
    /// healthy llama-server will not produce on demand.
    @Suite struct GatewayFaultTests {
        let http = UpstreamHTTPClient.shared

        /// Starts the broken upstream in `mode` and a gateway whose meta model is it.
        private func start(_ mode: String, _ adjust: (inout DaemonConfiguration) -> Void = { _ in })
            async throws -> (GatewayTests.Running, Process, LineCollector)
        {
            let python = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_PYTHON"],
                                      "AI_SYSADMIN_TEST_PYTHON is not set; run the tests through scripts/test")
            let script = TestEnvironment.supportFile("broken-upstream.py")
            let port = freePort()
            let upstream = Process()
            upstream.executableURL = URL(fileURLWithPath: python)
            upstream.arguments = [script, "\(port)", mode]
            let output = Pipe()
            upstream.standardOutput = output
            let lines = LineCollector()
            lines.attach(to: output)
            try upstream.run()
            try #require(await eventually(timeout: .seconds(10)) { lines.all.contains("listening") }, "broken upstream did not start")
            let running = try await GatewayTests.Running.start(withUpstream: false) { config in
                config.models.meta.backend = .remote
                config.models.meta.url = "http://127.0.0.1:\(port)"
                config.api.maxInFlight = 4 // known, so no /props probe reaches the broken upstream
                adjust(&config)
            }
            return (running, upstream, lines)
        }

        private func stop(_ running: GatewayTests.Running, _ upstream: Process) async throws {
            try await running.stop()
            kill(upstream.processIdentifier, SIGKILL)
            upstream.waitUntilExit()
        }

        private let chat = Data(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}]}"#.utf8)

        /// A client streaming a chat completion through the gateway until cancelled.
        private func streamingClient(_ running: GatewayTests.Running) -> Task<Void, any Error> {
            let body = Data(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"stream":true}"#.utf8)
            let http = self.http
            return Task {
                let response = try await http.stream(UpstreamRequest(
                    method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")],
                    body: body))
                for try await _ in response.body {}
            }
        }

        @Test func aSilentUpstreamGets504AfterTheIdleTimeout() async throws {
            let (running, upstream, _) = try await start("stall") { $0.api.upstreamIdleTimeoutSeconds = 1 }
            let response = try await http.execute(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")], body: chat))
            #expect(response.status == 504)
            #expect(String(decoding: response.body, as: UTF8.self).contains("upstream_timeout"))
            try await stop(running, upstream)
        }

        @Test func aSlowClientIsDisconnectedButASilentStreamIsNot() async throws {
            let (running, upstream, lines) = try await start("stall-sse") { $0.api.clientIdleTimeoutSeconds = 1 }

            // Half a request, then nothing: the gateway must not hold the connection for it.
            let slow = try #require(LoopbackSocket.connect(to: running.configuration.api.port))
            defer { close(slow) }
            let partial = Array("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n".utf8)
            _ = partial.withUnsafeBytes { send(slow, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // A bounded wait for the close: a connection still open after 10 s makes recv fail rather than return 0.
            var wait = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            let closed = await onThread {
                var byte: UInt8 = 0
                return recv(slow, &byte, 1, 0) == 0
            }
            #expect(closed, "the connection was not closed")

            // A stream whose model is silent for longer than that is a different thing and must stay open.
            let client = streamingClient(running)
            try #require(await eventually(timeout: .seconds(10)) { lines.all.contains("request /v1/chat/completions") })
            let closedEarly = await eventually(timeout: .seconds(2.5)) { lines.all.contains("closed /v1/chat/completions") }
            #expect(!closedEarly, "a silent stream was cut by the client idle timeout")
            client.cancel()
            _ = await client.result
            try await stop(running, upstream)
        }

        @Test func aLoadingUpstreamGets503WithRetryAfter() async throws {
            let (running, upstream, _) = try await start("loading")
            let response = try await http.execute(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")], body: chat))
            #expect(response.status == 503)
            #expect(response.header("Retry-After") == "5")
            #expect(String(decoding: response.body, as: UTF8.self).contains("upstream_unavailable"))
            try await stop(running, upstream)
        }

        @Test func aClientLeavingASilentStreamClosesTheUpstreamRequest() async throws {
            let (running, upstream, lines) = try await start("stall-sse")
            let client = streamingClient(running)
            try #require(await eventually(timeout: .seconds(10)) { lines.all.contains("request /v1/chat/completions") })
            #expect(running.gateway.load.inFlight == 1)
            client.cancel()
            _ = await client.result
            // Nothing flows, so only the connection closing can tell the gateway; it must pass that on at once.
            #expect(await eventually(timeout: .seconds(2)) { lines.all.contains("closed /v1/chat/completions") },
                    "the upstream request outlived the client: \(lines.all)")
            #expect(await eventually(timeout: .seconds(2)) { running.gateway.load.inFlight == 0 }, "the slot was not released")
            try await stop(running, upstream)
        }
        /// Streams a chat completion through the gateway to its end and returns the raw bytes.
        private func streamToTheEnd(_ running: GatewayTests.Running) async throws -> String {
            let body = Data(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"stream":true}"#.utf8)
            let response = try await http.stream(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")],
                body: body, timeouts: .init(total: .seconds(20))))
            var bytes = Data()
            for try await chunk in response.body { bytes += chunk }
            return String(decoding: bytes, as: UTF8.self)
        }

        /// The `data:` payloads of a complete event stream.
        private func events(_ stream: String) throws -> [String] {
            var parser = ServerSentEventParser()
            return try parser.feed(Data(stream.utf8)).compactMap { item in
                if case .event(let event) = item { event.data } else { nil }
            }
        }

        @Test func garbageInAStreamEndsItWithAnErrorEventAndClosesTheUpstream() async throws {
            let (running, upstream, lines) = try await start("garbage")
            let stream = try await streamToTheEnd(running)
            let events = try events(stream)
            #expect(events.first?.contains("Hel") == true, "the good event before the garbage was not passed on: \(stream)")
            #expect(!stream.contains("<html>"), "the garbage reached the client")
            #expect(events.last?.contains("upstream_stream_error") == true && events.last?.contains("not a JSON object") == true,
                    "last event: \(events.last ?? "none")")
            #expect(!events.contains("[DONE]"))
            #expect(await eventually(timeout: .seconds(2)) { lines.all.contains("closed /v1/chat/completions") },
                    "the upstream request was left open")
            #expect(await eventually(timeout: .seconds(2)) { running.gateway.load.inFlight == 0 }, "the slot was not released")
            #expect(try await http.execute(UpstreamRequest(url: running.base + "/health")).status == 200)
            try await stop(running, upstream)
        }

        @Test func aStreamThatEndsBeforeDoneGetsAnErrorEvent() async throws {
            let (running, upstream, _) = try await start("truncated")
            let events = try events(try await streamToTheEnd(running))
            #expect(events.count == 2)
            #expect(events.last?.contains("ended before data: [DONE]") == true, "last event: \(events.last ?? "none")")
            try await stop(running, upstream)
        }

        @Test func aNonJSONAnswerIs502() async throws {
            let (running, upstream, _) = try await start("not-json")
            let response = try await http.execute(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")], body: chat))
            #expect(response.status == 502)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("not a JSON object") && !text.contains("<html>"), "\(text)")
            try await stop(running, upstream)
        }

        /// No model small enough for the tests calls tools reliably (SmolLM2's chat template has no tool
        /// support), so the calls come from the scripted upstream; the client is the official openai package.
        @Test func toolCallsPassThroughBothWays() async throws {
            let (running, upstream, lines) = try await start("tool-calls")
            struct Call: Decodable, Equatable { let id: String?; let name: String; let arguments: String }
            struct Result: Decodable {
                let streamed_calls: [Call]
                let streamed_usage: Int?
                let content: String?
                let calls: [Call]
                let follow_up_finish_reason: String
            }
            let result = try await TestEnvironment.pythonCheck("openai-tool-calls-check.py", [running.base + "/v1", "none", "ai-sysadmin-meta"],
                                                               as: Result.self)
            let call = Call(id: "call_1", name: "get_weather", arguments: #"{"city": "Paris"}"#)
            #expect(result.streamed_calls == [call], "deltas were not passed on intact")
            #expect(result.streamed_usage == 7)
            #expect(result.content == nil && result.calls == [call])
            #expect(result.follow_up_finish_reason == "tool_calls")

            // What the upstream got: the client's fields untouched (tools, tool_choice, parallel_tool_calls,
            // stream_options, content parts, content null with tool_calls, the tool message), the model mapped.
            // The helper's output is read apart from its answers: wait for all three lines.
            _ = await eventually(timeout: .seconds(10)) { lines.all.filter { $0.hasPrefix("body ") }.count >= 3 }
            let bodies = try lines.all.filter { $0.hasPrefix("body ") }.map { line in
                try #require(JSONSerialization.jsonObject(with: Data(line.dropFirst(5).utf8)) as? [String: Any])
            }
            try #require(bodies.count == 3, "\(lines.all)")
            #expect(bodies.allSatisfy { ($0["tools"] as? [Any])?.count == 1 && $0["model"] as? String == "meta" })
            #expect(bodies[0]["tool_choice"] as? String == "auto" && bodies[0]["parallel_tool_calls"] as? Bool == false)
            #expect((bodies[0]["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
            let messages = try #require(bodies[2]["messages"] as? [[String: Any]])
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "tool"])
            #expect((messages[0]["content"] as? [Any])?.count == 1, "content parts were changed")
            #expect(messages[1]["content"] is NSNull && (messages[1]["tool_calls"] as? [Any])?.count == 1)
            #expect(messages[2]["tool_call_id"] as? String == "call_1")
            try await stop(running, upstream)
        }
    }
}
