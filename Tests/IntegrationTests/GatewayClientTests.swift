import Foundation
import Logging
import ModelSupervisor
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

private typealias UpstreamRequest = UpstreamClient.HTTPRequest

extension IntegrationTests {
    /// The gateway as real clients meet it: pooling clients, clients that leave, clients that send too much or
    /// the wrong types, and what a client gets back (the model id it asked for, a limit when it named none).
    @Suite struct GatewayClientTests {
        typealias Running = GatewayTests.Running
        let http = UpstreamHTTPClient.shared

        private func post(_ url: String, _ body: String) async throws -> UpstreamClient.HTTPResponse {
            try await http.execute(UpstreamRequest(method: .post, url: url, headers: [("Content-Type", "application/json")], body: Data(body.utf8)))
        }

        private func errorCode(_ response: UpstreamClient.HTTPResponse) -> String? {
            guard case .object(let top)? = try? JSONDecoder().decode(JSONValue.self, from: response.body),
                  case .object(let error)? = top["error"], case .string(let code)? = error["code"] else { return nil }
            return code
        }

        struct PooledClients: Decodable {
            let aiohttp_failures: Int
            let aiohttp_errors: [String]
            let http_client_failures: Int
            let http_client_errors: [String]
            let too_large_status: Int?
            let too_large_code: String?
            let http10_closed: Bool
        }

        /// aiohttp and http.client reuse connections; a stream must not leave them a connection the gateway closed
        /// without saying so. urllib writes a whole 9 MiB body before it reads: it must still get its 413.
        @Test func pooledClientsNeverMeetAConnectionClosedUnderThem() async throws {
            let running = try await Running.start { $0.models.meta.contextSize = 4096 }
            let result = try await TestEnvironment.pythonCheck("pooled-clients-check.py", [running.base, "ai-sysadmin-meta", "50"],
                                                               as: PooledClients.self)
            #expect(result.aiohttp_failures == 0, "\(result.aiohttp_errors)")
            #expect(result.http_client_failures == 0, "\(result.http_client_errors)")
            #expect(result.too_large_status == 413 && result.too_large_code == "request_too_large", "\(result)")
            #expect(result.http10_closed, "an HTTP/1.0 connection without keep-alive stays open")
            try await running.stop()
        }

        /// A client that sends its requests without waiting for the answers (HTTP/1.1 pipelining) gets every answer,
        /// in order, whichever path serves each: the event-loop proxy for the meta model, Hummingbird for the rest.
        @Test func pipelinedRequestsAreAnsweredInOrderAcrossBothPaths() async throws {
            let running = try await Running.start()
            let fd = try #require(LoopbackSocket.connect(to: running.configuration.api.port))
            let chat = #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"max_tokens":2}"#
            func post(_ body: String) -> String {
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let requests = post(chat) + "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n" + post(chat) + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            let bytes = Array(requests.utf8)
            #expect(bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count)
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let received = await onThread {
                var received = ""
                let deadline = ContinuousClock.now + .seconds(20)
                while !received.contains(#"{"status":"ok"}"#), ContinuousClock.now < deadline {
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    let count = recv(fd, &buffer, buffer.count, 0)
                    if count == 0 { break }
                    if count > 0 { received += String(decoding: buffer[..<count], as: UTF8.self) }
                }
                return received
            }
            // Bodies are not line-terminated: the next status line follows the last byte of the previous body.
            let statuses = received.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(6)) }
            #expect(statuses == Array(repeating: "200 OK", count: 4), "\(received.prefix(3000))")
            // Each answer's mark after the previous one's.
            var rest = received[...]
            for mark in [#""object":"chat.completion""#, #""object":"list""#, #""object":"chat.completion""#, #"{"status":"ok"}"#] {
                guard let found = rest.range(of: mark) else {
                    Issue.record("no \(mark) after the answers before it: \(received.prefix(3000))")
                    break
                }
                rest = rest[found.upperBound...]
            }
            close(fd) // before stopping: a request left unanswered would hold the graceful shutdown
            try await running.stop()
        }

        /// The test's own look at llama-server, on a client of its own: the gateway in this process uses the shared one.
        static let observer = UpstreamHTTPClient(threadName: "test-observer")

        private func metaSlotIsProcessing(_ running: Running) async throws -> Bool {
            let endpoint = try #require(await running.supervisor?.client(for: .meta)).endpoint
            let response = try await Self.observer.execute(UpstreamRequest(
                url: endpoint.url("/slots"), headers: [("Authorization", "Bearer \(endpoint.apiKey ?? "")")]))
            return String(decoding: response.body, as: UTF8.self).contains(#""is_processing":true"#)
        }

        /// A chat frontend's Stop on a request that is not streamed: the model stops generating for nobody. (Asked
        /// by a follow-up request for the only slot: llama-server notices a closed non-streamed request only while
        /// nothing polls its /slots.)
        @Test func aClientThatLeavesANonStreamedRequestFreesTheSlot() async throws {
            let running = try await Running.start { $0.models.meta.contextSize = 4096 }
            let body = #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"Write a long story."}],"max_tokens":3500,"ignore_eos":true}"#
            let client = Task {
                try await Self.observer.execute(UpstreamRequest(method: .post, url: running.base + "/v1/chat/completions",
                                                                headers: [("Content-Type", "application/json")], body: Data(body.utf8)))
            }
            try #require(await eventually(timeout: .seconds(60)) { (try? await metaSlotIsProcessing(running)) == true })
            client.cancel()
            _ = await client.result
            // The slot's next request, straight to llama-server: it waits for the 3,500 tokens (half a minute and
            // more here) unless the gateway let the model stop.
            let endpoint = try #require(await running.supervisor?.client(for: .meta)).endpoint
            let next = try await Self.observer.execute(UpstreamRequest(
                method: .post, url: endpoint.url("/v1/chat/completions"),
                headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(endpoint.apiKey ?? "")")],
                body: Data(#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}"#.utf8),
                timeouts: .init(connect: .seconds(2), total: .seconds(15), idle: .seconds(15))))
            #expect(next.status == 200, "llama-server kept generating for a client that had gone")
            try await running.stop()
        }

        /// Every mistake a client can make is refused by the gateway, OpenAI-shaped, before the model server sees it;
        /// what the model server still refuses comes back OpenAI-shaped too, and never as a 500.
        @Test func refusalsAreTheGatewaysOwnAndOpenAIShaped() async throws {
            let running = try await Running.start { $0.api.maxBodyBytes = 4096 }
            let url = running.base + "/v1/chat/completions"
            let hi = #""messages":[{"role":"user","content":"hi"}]"#
            for (body, code, words) in [
                (#"{"model":"ai-sysadmin-meta","messages":[]}"#, "missing_messages", "must not be empty"),
                (#"{"model":"ai-sysadmin-meta",\#(hi),"max_tokens":"ten"}"#, "invalid_parameter", "'max_tokens' must be a whole number"),
                (#"{"model":"ai-sysadmin-meta",\#(hi),"max_tokens":0}"#, "invalid_parameter", "'max_tokens' must be a whole number"),
                (#"{"model":"ai-sysadmin-meta",\#(hi),"n":0}"#, "invalid_parameter", "'n' must be a whole number from 1 to 16"),
                (#"{"model":"ai-sysadmin-meta",\#(hi),"temperature":"hot"}"#, "invalid_parameter", "'temperature' must be a number from 0.0 to 2.0"),
                (#"{"model":"ai-sysadmin-meta",\#(hi),"temperature":7}"#, "invalid_parameter", "'temperature' must be a number"),
                (#"{"model":"ai-sysadmin-meta",\#(hi),"stream":"yes"}"#, "invalid_parameter", "'stream' must be true or false"),
                (#"{"model":"ai-sysadmin-meta",\#(hi),"stop":7}"#, "invalid_parameter", "'stop' must be a string or an array"),
            ] {
                let response = try await post(url, body)
                #expect(response.status == 400 && errorCode(response) == code, "\(body): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
                #expect(String(decoding: response.body, as: UTF8.self).contains(words), "\(body)")
            }
            let completion = try await post(running.base + "/v1/completions", #"{"model":"ai-sysadmin-meta"}"#)
            #expect(completion.status == 400 && errorCode(completion) == "missing_prompt")

            // A chunked body over the limit: a 413 with its JSON, like a declared one.
            let chunked = Data(repeating: UInt8(ascii: " "), count: 8 * 1024)
            let tooLarge = try await http.execute(UpstreamRequest(
                method: .post, url: url, headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
                body: Data(#"{"model":"ai-sysadmin-meta",\#(hi),"pad":""#.utf8) + chunked + Data(#""}"#.utf8)))
            #expect(tooLarge.status == 413 && errorCode(tooLarge) == "request_too_large", "\(String(decoding: tooLarge.body, as: UTF8.self))")

            // What llama-server itself rejects (a message without content) is its refusal in OpenAI's shape.
            let rejected = try await post(url, #"{"model":"ai-sysadmin-meta","messages":[{"role":"user"}],"max_tokens":2}"#)
            #expect(rejected.status != 500 && rejected.status != 200, "\(rejected.status)")
            #expect(errorCode(rejected) == "upstream_rejected" || errorCode(rejected) == "upstream_error",
                    "\(String(decoding: rejected.body, as: UTF8.self))")
            try await running.stop()
        }

        /// The supervisor's probe every few seconds is not news: `/health` is logged at debug, real requests at info,
        /// and a refusal's line says why.
        @Test func probesAreLoggedAtDebugAndRefusalsWithTheirReason() async throws {
            let store = RecordingLogHandler.Store()
            let running = try await Running.start(withUpstream: false, logger: Logger(label: "gateway-log") { _ in RecordingLogHandler(store: store) })
            _ = try await http.execute(UpstreamRequest(url: running.base + "/health"))
            _ = try await http.execute(UpstreamRequest(url: running.base + "/v1/models"))
            _ = try await post(running.base + "/v1/chat/completions", #"{"model":"ai-sysadmin-meta","messages":[]}"#)
            let lines = store.all.filter { $0.message == "request" }
            #expect(lines.first { $0.metadata["ai.request.path"] == "/health" }?.level == .debug)
            #expect(lines.first { $0.metadata["ai.request.path"] == "/v1/models" }?.level == .info)
            let refused = try #require(lines.first { $0.metadata["ai.request.path"] == "/v1/chat/completions" })
            #expect(refused.level == .info && refused.metadata["ai.response.error"]?.contains("'messages' must not be empty") == true)
            try await running.stop()
        }

        /// Against an upstream that answers like a tool-calling model and prints what it received: a request that
        /// names no `max_tokens` gets `api.defaultMaxTokens`, one that names it keeps its own, and every streamed
        /// chunk says the model id the client asked for — an alias included — not the upstream's name.
        @Test func aLimitWhenNoneIsNamedAndTheClientsModelIdInEveryChunk() async throws {
            let port = freePort()
            let (upstream, lines) = try await TestEnvironment.startHelper("broken-upstream.py", ["\(port)", "tool-calls"])
            defer { TestEnvironment.end(upstream) }
            let running = try await Running.start(withUpstream: false) {
                $0.models.meta.backend = .remote
                $0.models.meta.url = "http://127.0.0.1:\(port)"
                $0.models.meta.apiKeyFile = nil
                $0.api.aliases = ["gpt-4o"]
                $0.api.defaultMaxTokens = 321
                $0.api.maxInFlight = 1
            }
            let url = running.base + "/v1/chat/completions"
            let unlimited = try await post(url, #"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"weather?"}]}"#)
            #expect(unlimited.status == 200, "\(String(decoding: unlimited.body, as: UTF8.self))")
            let answered = try JSONDecoder().decode(JSONValue.self, from: unlimited.body)
            guard case .object(let completion) = answered else { throw CancellationError() }
            #expect(completion["model"] == .string("ai-sysadmin-meta"), "the answer names the upstream's model: \(answered)")
            let limited = try await post(url, #"{"model":"ai-sysadmin-meta","max_tokens":7,"messages":[{"role":"user","content":"weather?"}]}"#)
            #expect(limited.status == 200)
            // The helper prints what it received before it answers, but its output is read apart from the answer.
            var bodies: [String] = []
            _ = await eventually(timeout: .seconds(10)) {
                bodies = lines.all.filter { $0.hasPrefix("body ") }
                return bodies.count >= 2
            }
            #expect(bodies.count == 2 && bodies[0].contains(#""max_tokens":321"#) && bodies[0].contains(#""model":"meta""#), "\(bodies)")
            #expect(bodies.count == 2 && bodies[1].contains(#""max_tokens":7"#) && !bodies[1].contains("321"), "\(bodies)")

            let stream = try await http.stream(UpstreamRequest(
                method: .post, url: url, headers: [("Content-Type", "application/json")],
                body: Data(#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"weather?"}]}"#.utf8)))
            #expect(stream.header("Connection") == nil, "a stream keeps its connection open for the next request")
            var models: [String] = []
            for try await item in stream.serverSentEvents {
                guard case .event(let event) = item, !event.isDone,
                      case .object(let chunk)? = try? JSONDecoder().decode(JSONValue.self, from: Data(event.data.utf8)),
                      case .string(let model)? = chunk["model"] else { continue }
                models.append(model)
            }
            #expect(!models.isEmpty && models.allSatisfy { $0 == "gpt-4o" }, "\(models)")
            try await running.stop()
        }
    }
}
