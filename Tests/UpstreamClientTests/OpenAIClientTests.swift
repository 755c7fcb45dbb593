import Foundation
import Synchronization
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

/// The OpenAI client's handling of answers a real llama-server would not give: scripted servers send them.
@Suite struct OpenAIClientTests {
    let http = UpstreamHTTPClient(threadName: "openai-tests")

    private func server(answering body: String, contentType: String = "application/json") throws -> ScriptedHTTPServer {
        try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
    }

    private func completion(content: String) -> String {
        let escaped = String(decoding: try! JSONEncoder().encode(content), as: UTF8.self)
        return #"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"# + escaped + #"},"finish_reason":"stop"}]}"#
    }

    struct Verdict: Decodable { let severity: String }

    @Test func aStructuredAnswerThatDoesNotDecodeIsAnErrorWithTheModelsText() async throws {
        let server = try server(answering: completion(content: "Sure! The severity is high."))
        let client = OpenAIClient(endpoint: .init(baseURL: server.baseURL), http: http)
        await #expect {
            _ = try await client.structuredCompletion(.init(messages: [.user("x")]), schemaName: "verdict",
                                                      schema: ["type": "object"], as: Verdict.self)
        } throws: { error in
            guard let error = error as? UpstreamError else { return false }
            return error.code == .invalidResponse && error.message.contains("schema verdict")
                && error.body == "Sure! The severity is high."
        }
    }

    @Test func theSchemaIsSentAsResponseFormat() async throws {
        let seen = Mutex("")
        let server = try ScriptedHTTPServer { connection in
            seen.withLock { $0 = connection.readRequest() ?? "" }
            let body = #"{"choices":[{"index":0,"message":{"role":"assistant","content":"{\"severity\":\"warning\"}"}}]}"#
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
        let client = OpenAIClient(endpoint: .init(baseURL: server.baseURL, apiKey: "k"), http: http)
        let verdict = try await client.structuredCompletion(
            .init(messages: [.user("x")]), schemaName: "verdict",
            schema: ["type": "object", "properties": ["severity": ["type": "string"]]], as: Verdict.self)
        #expect(verdict.severity == "warning")
        let request = seen.withLock { $0 }
        #expect(request.contains("Authorization: Bearer k\r\n"))
        let body = try #require(request.components(separatedBy: "\r\n\r\n").last)
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
        guard case .object(let fields) = json, case .object(let format)? = fields["response_format"] else {
            Issue.record("no response_format in \(body)")
            return
        }
        #expect(format["type"] == "json_schema")
        guard case .object(let schema)? = format["json_schema"] else { Issue.record("no json_schema"); return }
        #expect(schema["name"] == "verdict")
        #expect(schema["strict"] == true)
    }

    @Test func aStreamThatEndsWithoutDoneIsMalformed() async throws {
        let server = try server(answering: #"data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}"# + "\n\n",
                                contentType: "text/event-stream")
        let client = OpenAIClient(endpoint: .init(baseURL: server.baseURL), http: http)
        var received: [String] = []
        await #expect {
            for try await chunk in try await client.streamChatCompletion(.init(messages: [.user("x")])) {
                received.append(chunk.choices.first?.delta.content ?? "")
            }
        } throws: { ($0 as? UpstreamError)?.code == .malformedStream }
        #expect(received == ["hi"])
    }

    @Test func aStreamedEventThatIsNoChunkIsMalformed() async throws {
        let server = try server(answering: "data: {\"not\": \"a chunk\"}\n\ndata: [DONE]\n\n", contentType: "text/event-stream")
        let client = OpenAIClient(endpoint: .init(baseURL: server.baseURL), http: http)
        await #expect {
            for try await _ in try await client.streamChatCompletion(.init(messages: [.user("x")])) {}
        } throws: { error in
            guard let error = error as? UpstreamError else { return false }
            return error.code == .malformedStream && error.message.contains("not a chat.completion.chunk")
        }
    }

    @Test func anErrorEventMidStreamCarriesTheServersMessage() async throws {
        let event = #"{"error":{"message":"the agent's reply broke off: the meta model went away","type":"server_error","code":"agent_error"}}"#
        let server = try server(answering: #"data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}"# + "\n\ndata: \(event)\n\n",
                                contentType: "text/event-stream")
        let client = OpenAIClient(endpoint: .init(baseURL: server.baseURL), http: http)
        await #expect {
            for try await _ in try await client.streamChatCompletion(.init(messages: [.user("x")])) {}
        } throws: { error in
            guard let error = error as? UpstreamError else { return false }
            return error.code == .malformedStream && error.serverMessage == "the agent's reply broke off: the meta model went away"
                && error.message.contains("reported an error mid-stream")
        }
        #expect(UpstreamError(.httpStatus, "503", status: 503, body: "<html>busy</html>").serverMessage == nil)
    }

    /// A remote server's health: an ai-sysadmin gateway's `/ready` says whether its model is up (its `/health` only that the
    /// gateway is); a server without `/ready` (404) is asked `/health`; one that does not answer `/ready` is not ready.
    @Test func aRemoteServersReadyOutranksItsHealth() async throws {
        func server(ready: String?) throws -> ScriptedHTTPServer {
            try ScriptedHTTPServer { connection in
                guard let request = connection.readRequest() else { return }
                if request.hasPrefix("GET /ready ") {
                    guard let ready else { _ = connection.waitForPeerClose(timeout: .seconds(10)); return }
                    connection.write("HTTP/1.1 \(ready)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                } else {
                    connection.write("HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}")
                }
            }
        }
        let probes = HTTPTimeouts(connect: .seconds(1), total: .seconds(1), idle: .seconds(1))
        func health(_ server: ScriptedHTTPServer) async -> ServerHealth {
            await OpenAIClient(endpoint: .init(baseURL: server.baseURL), http: http, probeTimeouts: probes).genericHealth()
        }
        #expect(await health(try server(ready: "200 OK")) == .ready)
        #expect(await health(try server(ready: "404 Not Found")) == .ready, "no /ready: /health decides")
        let notReady = await health(try server(ready: "503 Service Unavailable"))
        guard case .unavailable(let why) = notReady else { Issue.record("a 503 on /ready: \(notReady)"); return }
        #expect(why.contains("/ready answered 503"))
        let silent = await health(try server(ready: nil))
        guard case .unavailable = silent else { Issue.record("a /ready that never answers: \(silent)"); return }
    }

    @Test func healthMapsStatusesAndNeverThrows() async throws {
        let loading = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            let body = #"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#
            connection.write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
        #expect(await OpenAIClient(endpoint: .init(baseURL: loading.baseURL), http: http).health() == .loading)
        let down = await OpenAIClient(endpoint: .init(baseURL: "http://127.0.0.1:\(freePort())"), http: http).health()
        guard case .unavailable(let why) = down else { Issue.record("expected unavailable, got \(down)"); return }
        #expect(why.contains("connection refused"))
    }
}
