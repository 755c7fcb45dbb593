import APIGateway
import Foundation
import ModelSupervisor
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
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Support/broken-upstream.py").path
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
            let started = ContinuousClock.now
            let response = try await http.execute(UpstreamRequest(
                method: .post, url: running.base + "/v1/chat/completions", headers: [("Content-Type", "application/json")], body: chat))
            #expect(response.status == 504)
            #expect(String(decoding: response.body, as: UTF8.self).contains("upstream_timeout"))
            #expect(ContinuousClock.now - started < .seconds(10))
            try await stop(running, upstream)
        }

        @Test func aSlowClientIsDisconnectedButASilentStreamIsNot() async throws {
            let (running, upstream, lines) = try await start("stall-sse") { $0.api.clientIdleTimeoutSeconds = 1 }

            // Half a request, then nothing: the gateway must not hold the connection for it.
            let slow = try #require(LoopbackSocket.connect(to: running.configuration.api.port))
            defer { close(slow) }
            let partial = Array("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n".utf8)
            _ = partial.withUnsafeBytes { send(slow, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            let started = ContinuousClock.now
            var byte: UInt8 = 0
            #expect(recv(slow, &byte, 1, 0) == 0, "the connection was not closed")
            #expect(ContinuousClock.now - started < .seconds(5))

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
    }
}
