import Foundation
import Synchronization
import TestSupport
import Testing
@testable import UpstreamClient

/// The libcurl client against scripted local servers: every typed error, streaming as it arrives,
/// cancellation while the server is silent, connection reuse.
@Suite struct UpstreamHTTPClientTests {
    let client = UpstreamHTTPClient(threadName: "curl-tests")

    private func ok(_ body: String, contentType: String = "application/json", keepAlive: Bool = true) -> String {
        "HTTP/1.1 200 OK\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n"
            + (keepAlive ? "" : "Connection: close\r\n") + "\r\n" + body
    }

    @Test func getReturnsStatusHeadersAndBody() async throws {
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            connection.write(ok("{\"status\":\"ok\"}"))
        }
        let response = try await client.execute(HTTPRequest(url: server.baseURL + "/health"))
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        #expect(String(decoding: response.body, as: UTF8.self) == "{\"status\":\"ok\"}")
    }

    @Test func postSendsBodyAndHeaders() async throws {
        let seen = Mutex("")
        let server = try ScriptedHTTPServer { connection in
            let request = connection.readRequest() ?? ""
            seen.withLock { $0 = request }
            connection.write(ok("{}"))
        }
        _ = try await client.execute(HTTPRequest(
            method: .post, url: server.baseURL + "/v1/chat/completions",
            headers: [("Authorization", "Bearer k1"), ("Content-Type", "application/json")],
            body: Data("{\"x\":1}".utf8)))
        let request = seen.withLock { $0 }
        #expect(request.hasPrefix("POST /v1/chat/completions HTTP/1.1\r\n"))
        #expect(request.contains("Authorization: Bearer k1\r\n"))
        #expect(request.hasSuffix("\r\n\r\n{\"x\":1}"))
        #expect(!request.lowercased().contains("expect: 100-continue"))
    }

    @Test func connectionRefusedIsTyped() async throws {
        let port = freePort()
        await #expect {
            _ = try await client.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/health"))
        } throws: { ($0 as? UpstreamError)?.code == .connectionRefused }
    }

    @Test func idleTimeoutFiresWhenServerFallsSilent() async throws {
        let release = Gate()
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: first\n\n")
            release.wait(timeout: .seconds(30))
        }
        defer { release.open() }
        let response = try await client.stream(HTTPRequest(
            url: server.baseURL + "/stream", timeouts: .init(connect: .seconds(2), total: nil, idle: .milliseconds(300))))
        var chunks = 0
        await #expect {
            for try await _ in response.body { chunks += 1 }
        } throws: { ($0 as? UpstreamError)?.code == .idleTimeout }
        #expect(chunks == 1)
    }

    @Test func totalTimeoutFiresWhileDataKeepsComing() async throws {
        let stop = Gate()
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
            // A byte every 50 ms keeps the idle timeout from firing, so only the total one can.
            while !stop.wait(timeout: .milliseconds(50)) {
                guard connection.write(": tick\n") else { return }
            }
        }
        defer { stop.open() }
        await #expect {
            _ = try await client.execute(HTTPRequest(
                url: server.baseURL + "/drip", timeouts: .init(connect: .seconds(2), total: .milliseconds(600), idle: .seconds(5))))
        } throws: { ($0 as? UpstreamError)?.code == .totalTimeout }
    }

    @Test func connectTimeoutIsTyped() async throws {
        // A listener whose backlog is full drops further SYNs on Linux, so connect() cannot complete.
        let (fd, port) = try #require(LoopbackSocket.bind(listenBacklog: 0))
        defer { close(fd) }
        // Fill the queue with connections that are never accepted.
        let fillers = (0..<4).map { _ in LoopbackSocket.startConnecting(to: port) }
        defer { fillers.forEach { close($0) } }
        await #expect {
            _ = try await client.execute(HTTPRequest(
                url: "http://127.0.0.1:\(port)/", timeouts: .init(connect: .milliseconds(400), total: nil, idle: nil)))
        } throws: { ($0 as? UpstreamError)?.code == .connectTimeout }
    }

    @Test func errorStatusCarriesTheBody() async throws {
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            let body = #"{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}"#
            connection.write("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
        let plain = try await client.execute(HTTPRequest(url: server.baseURL + "/v1/models"))
        #expect(plain.status == 401)
        await #expect {
            _ = try await client.stream(HTTPRequest(method: .post, url: server.baseURL + "/v1/chat/completions", body: Data("{}".utf8)))
        } throws: { error in
            guard let error = error as? UpstreamError else { return false }
            return error.code == .httpStatus && error.status == 401 && (error.body ?? "").contains("Invalid API Key")
        }
    }

    @Test func streamedEventsArriveBeforeTheResponseEnds() async throws {
        let firstReceived = Gate()
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
            connection.write("data: {\"n\":1}\n\n")
            // The second event is only written once the client has seen the first: a buffering client hangs.
            guard firstReceived.wait(timeout: .seconds(10)) else { return }
            connection.write(": ping\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\n")
        }
        let response = try await client.stream(HTTPRequest(url: server.baseURL + "/stream"))
        var items: [ServerSentEventItem] = []
        for try await item in response.serverSentEvents {
            items.append(item)
            if items.count == 1 { firstReceived.open() }
        }
        #expect(items == [
            .event(.init(data: "{\"n\":1}")), .comment("ping"), .event(.init(data: "{\"n\":2}")), .event(.init(data: "[DONE]")),
        ])
    }

    @Test func cancellingASilentStreamAbortsWithinASecond() async throws {
        let closedByClient = Mutex<Bool?>(nil)
        let requestArrived = Gate()
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
            requestArrived.open()
            let closed = connection.waitForPeerClose(timeout: .seconds(10))
            closedByClient.withLock { $0 = closed }
        }
        let client = self.client
        let task = Task {
            let response = try await client.stream(HTTPRequest(url: server.baseURL + "/silent", timeouts: .init(idle: nil)))
            for try await _ in response.body {}
        }
        #expect(await requestArrived.waitAsync(timeout: .seconds(10)))
        task.cancel()
        let result = await task.result
        #expect(throws: UpstreamError.self) { try result.get() }
        // The server saw the connection close: the transfer was really aborted, not just abandoned.
        #expect(await eventually(timeout: .seconds(12)) { closedByClient.withLock { $0 } != nil })
        #expect(closedByClient.withLock { $0 } == true)
    }

    @Test func aSlowConsumerPausesTheTransferWithoutLosingBytes() async throws {
        let total = 8 * 1024 * 1024
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(total)\r\n\r\n")
            var sent = 0
            while sent < total {
                let length = min(65536, total - sent)
                let chunk = (0..<length).map { UInt8((sent + $0) % 251) } // byte n of the body is n % 251
                guard chunk.withUnsafeBytes({ send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == length else { return }
                sent += length
            }
        }
        let limit = 64 * 1024
        let response = try await client.stream(
            HTTPRequest(url: server.baseURL + "/big", timeouts: .init(connect: .seconds(2), total: nil, idle: .milliseconds(200))),
            bufferLimit: limit)
        var iterator = response.body.makeAsyncIterator()
        var received = try #require(try await iterator.next())
        // The consumer now stalls: the transfer must pause with no more than the limit (plus one delivery) held.
        #expect(await eventually(timeout: .seconds(10)) { response.body.storage.isPaused }, "the transfer never paused")
        #expect(response.body.storage.bufferedBytes <= limit + 64 * 1024)
        // A paused transfer is the consumer's doing, not the server's: the idle timeout must not fire.
        try await Task.sleep(for: .milliseconds(600))
        while let chunk = try await iterator.next() { received.append(chunk) }
        #expect(received.count == total)
        #expect(received.enumerated().allSatisfy { $0.element == UInt8($0.offset % 251) }, "bytes were lost or reordered")
    }

    @Test func droppingAResponseBodyAbortsTheTransfer() async throws {
        let closedByClient = Mutex<Bool?>(nil)
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n: ping\n\n")
            let closed = connection.waitForPeerClose(timeout: .seconds(10))
            closedByClient.withLock { $0 = closed }
        }
        do {
            let response = try await client.stream(HTTPRequest(url: server.baseURL + "/silent", timeouts: .init(idle: nil)))
            #expect(response.status == 200)
        }
        #expect(await eventually(timeout: .seconds(5)) { closedByClient.withLock { $0 } != nil })
        #expect(closedByClient.withLock { $0 } == true, "the connection stayed open after the body was dropped")
    }

    /// A finished transfer — answered, refused, cancelled or streamed — is let go with its request and response: the
    /// daemon and the gateway make one per model request, for as long as they run.
    @Test func finishedTransfersAreLetGo() async throws {
        let server = try ScriptedHTTPServer { connection in
            while let request = connection.readRequest() {
                if request.contains("/silent") { continue }
                connection.write(request.contains("/missing") ? "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"
                                                              : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            }
        }
        for _ in 0..<20 {
            #expect(try await client.execute(HTTPRequest(url: server.baseURL + "/health")).status == 200)
            #expect(try await client.execute(HTTPRequest(url: server.baseURL + "/missing")).status == 404)
        }
        let silent = Task { try await client.execute(HTTPRequest(url: server.baseURL + "/silent")) }
        try #require(await eventually(timeout: .seconds(5)) { client.census.current >= 1 })
        silent.cancel()
        _ = await silent.result
        do {
            let streamed = try await client.stream(HTTPRequest(url: server.baseURL + "/health"))
            for try await _ in streamed.body {}
        }
        #expect(await eventually(timeout: .seconds(5)) { client.census.current == 0 }, "\(client.census.current) finished transfers are still in memory")
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try ScriptedHTTPServer { connection in
            while connection.readRequest() != nil {
                connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            }
        }
        for _ in 0..<5 {
            let response = try await client.execute(HTTPRequest(url: server.baseURL + "/health"))
            #expect(response.status == 200)
        }
        #expect(server.acceptedConnections == 1)
    }

    @Test func anOversizedBodyIsRefusedNotBuffered() async throws {
        let server = try ScriptedHTTPServer { connection in
            _ = connection.readRequest()
            let body = String(repeating: "x", count: 2 * 1024 * 1024)
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
        await #expect {
            _ = try await client.execute(HTTPRequest(url: server.baseURL + "/huge"), maximumBodyBytes: 1024 * 1024)
        } throws: { error in
            guard let error = error as? UpstreamError else { return false }
            return error.code == .invalidResponse && error.message.contains("larger than 1048576 bytes")
        }
    }

    /// Checked before any connection is tried (port 1 would refuse): "\r\n" is one Character, so only a byte search finds it.
    @Test(arguments: ["a\r\nHost: b", "a\rb", "a\nb", "a\u{0}b"])
    func headerInjectionIsRefused(value: String) async throws {
        await #expect {
            _ = try await client.execute(HTTPRequest(url: "http://127.0.0.1:1/", headers: [("X-Evil", value)]))
        } throws: { ($0 as? UpstreamError)?.code == .invalidRequest }
    }

    @Test func nonHTTPURLIsRefused() async throws {
        await #expect {
            _ = try await client.execute(HTTPRequest(url: "file:///etc/passwd"))
        } throws: { ($0 as? UpstreamError)?.code == .invalidRequest }
    }
}
