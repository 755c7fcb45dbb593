import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOPosix
import UpstreamClient

/// One checked `/v1` request forwarded to the meta model and its answer relayed, all on the client
/// connection's event loop: a slot, a pooled upstream connection, the request, then the response — a stream
/// event by event through ``StreamRelay``, or a whole body checked and renamed as the libcurl path does. A client
/// that leaves closes the upstream connection at once (llama-server then stops generating); the slot is given
/// back exactly once, whatever ends the exchange.
final class ProxyExchange {
    private enum Phase {
        case waitingForSlot
        case connecting
        /// The request is sent; no response head yet.
        case awaitingHead
        case streaming(StreamRelay)
        case collecting(status: Int, contentType: String?, body: ByteBuffer)
        case done
    }

    private let request: ProxyRequest
    private let check: RequestCheck
    private let services: ProxyServices
    private let handler: GatewayProxyHandler
    private let eventLoop: any EventLoop
    private var phase = Phase.waitingForSlot
    private var lease: SlotLease?
    private var slotWait: Task<Void, Never>?
    private var connection: UpstreamConnection?
    private var upstreamKeepsAlive = false
    private var retried = false
    private var totalDeadline: Scheduled<Void>?
    private var idleCheck: Scheduled<Void>?
    private var lastUpstreamByte = NIODeadline.now()
    /// The client cannot take more now; the upstream is not read until it can.
    private var clientWritable = true

    /// A non-streamed answer larger than this is the upstream misbehaving, not something to hold in memory.
    private static let maximumResponseBytes = 64 * 1024 * 1024

    init(request: ProxyRequest, check: RequestCheck, services: ProxyServices, handler: GatewayProxyHandler, eventLoop: any EventLoop) {
        self.request = request
        self.check = check
        self.services = services
        self.handler = handler
        self.eventLoop = eventLoop
    }

    func start() {
        let background = check.body.range(of: Data("### Task:".utf8)) != nil
        if let lease = services.immediateSlot() {
            slotGranted(lease)
            return
        }
        // Waiting in the queue, learning the slot count, or taking a turn on the daemon's slots: the async path,
        // back on this loop with the outcome.
        let exchange = NIOLoopBound(self, eventLoop: eventLoop)
        let services = self.services, eventLoop = self.eventLoop
        slotWait = Task {
            do {
                let lease = try await services.waitForSlot(background: background)
                eventLoop.execute { exchange.value.slotGranted(lease) }
            } catch let error as OpenAIError {
                eventLoop.execute { exchange.value.fail(error) }
            } catch {
                eventLoop.execute { exchange.value.fail(OpenAIError(.serviceUnavailable, "no slot of the meta model: \(error)",
                                                                    type: "server_error", code: "queue_timeout")) }
            }
        }
    }

    private func slotGranted(_ lease: SlotLease) {
        guard case .waitingForSlot = phase else {
            lease.release()
            return
        }
        self.lease = lease
        connect()
    }

    private func connect() {
        phase = .connecting
        let pool = services.pools.pool(on: eventLoop)
        pool.connection(connectTimeout: .seconds(2), counter: services.pools.counter) { result in
            switch result {
            case .success(let connection):
                guard case .connecting = self.phase else {
                    connection.close()
                    return
                }
                self.send(on: connection)
            case .failure(let error):
                guard case .connecting = self.phase else { return }
                self.upstreamFailed(Self.connectFailure(error))
            }
        }
    }

    private func send(on connection: UpstreamConnection) {
        self.connection = connection
        phase = .awaitingHead
        let endpoint = services.endpoint
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: services.pools.address.pathPrefix + request.route.rawValue)
        head.headers.add(name: "Host", value: services.pools.address.authority)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(check.body.count))
        if let key = endpoint.apiKey { head.headers.add(name: "Authorization", value: "Bearer \(key)") }
        lastUpstreamByte = .now()
        armTimers()
        let body = connection.channel.allocator.buffer(bytes: check.body)
        connection.send(head, body: body) { [weak self] event in self?.received(event) }
        if !clientWritable { connection.setReading(false) }
    }

    // MARK: Upstream events

    private func received(_ event: UpstreamConnection.Event) {
        switch event {
        case .part(let part):
            lastUpstreamByte = .now()
            switch part {
            case .head(let head): receivedHead(head)
            case .body(let bytes): receivedBody(bytes)
            case .end: receivedEnd()
            }
        case .closed(let error):
            connectionClosed(error)
        }
    }

    private func receivedHead(_ head: HTTPResponseHead) {
        guard case .awaitingHead = phase else { return }
        upstreamKeepsAlive = head.isKeepAlive
        let status = Int(head.status.code)
        if check.streaming, status == 200 {
            handler.writeHead(request, status: .ok, headers: [
                .contentType: "text/event-stream", .cacheControl: "no-cache", Gateway.accelBuffering: "no",
            ], contentLength: nil)
            phase = .streaming(StreamRelay(modelJSON: services.modelJSON(for: check.model)))
        } else {
            phase = .collecting(status: status, contentType: head.headers.first(name: "Content-Type"), body: ByteBuffer())
        }
    }

    private func receivedBody(_ bytes: ByteBuffer) {
        switch phase {
        case .streaming(var relay):
            phase = .done // not kept while the relay changes, so its buffers are not copied
            do {
                let output = try relay.relay(bytes.readableBytesView)
                phase = .streaming(relay)
                request.facts.add(services.metrics.count(output.usage))
                if !output.bytes.isEmpty { handler.writeBody(ByteBuffer(bytes: output.bytes), flush: true) }
            } catch {
                services.metrics.upstreamError(.malformedStream)
                endStream(fault: error.message)
            }
        case .collecting(let status, let contentType, var body):
            phase = .done
            guard body.readableBytes + bytes.readableBytes <= Self.maximumResponseBytes else {
                upstreamFailed(UpstreamError(.invalidResponse, "the answer is larger than \(Self.maximumResponseBytes) bytes"))
                return
            }
            var bytes = bytes
            body.writeBuffer(&bytes)
            phase = .collecting(status: status, contentType: contentType, body: body)
        default:
            break
        }
    }

    private func receivedEnd() {
        switch phase {
        case .streaming(var relay):
            if let fault = relay.finish() {
                services.metrics.upstreamError(.malformedStream)
                endStream(fault: fault.message)
            } else {
                endStream(fault: nil)
            }
        case .collecting(let status, let contentType, let body):
            answer(status: status, contentType: contentType, body: Data(body.readableBytesView))
        default:
            break
        }
    }

    private func connectionClosed(_ error: (any Error)?) {
        let why = error.map { "\($0)" } ?? "the connection closed"
        switch phase {
        case .awaitingHead where !retried && (connection?.earlierExchanges ?? 0) > 0:
            // A reused connection the server closed as it went idle, before it read this request: once more, fresh.
            retried = true
            connection = nil
            cancelTimers()
            connect()
        case .awaitingHead, .collecting:
            upstreamFailed(UpstreamError(.transport, "the meta model's server closed the connection before its answer was complete (\(why))"))
        case .streaming:
            services.metrics.upstreamError(.transport)
            endStream(fault: "the meta model's stream broke off: \(why)")
        default:
            break
        }
    }

    // MARK: Answers

    /// A complete non-streamed answer: passed on as sent if it is what an OpenAI client can parse, naming the model
    /// the client asked for; anything else becomes the gateway's own error.
    private func answer(status: Int, contentType: String?, body: Data) {
        if status == 503 {
            // llama-server's "Loading model": say it the way clients retry on, with Retry-After.
            fail(.upstreamUnavailable("the model is loading"))
            return
        }
        guard status == 200 else {
            fail(Gateway.upstreamRefusal(status: status, body: body))
            return
        }
        guard let document = try? UpstreamDocument(body) else {
            services.metrics.upstreamError(.invalidResponse)
            fail(OpenAIError(.badGateway, "the meta model answered 200 with a body that is not a JSON object (\(body.count) bytes)",
                             type: "server_error", code: "upstream_error"))
            return
        }
        request.facts.add(services.metrics.count(document.usage))
        let renamed = ByteBuffer(bytes: document.renamingModel(in: body, to: services.modelJSON(for: check.model)))
        complete(reusable: true)
        handler.writeHead(request, status: .ok, headers: [.contentType: contentType ?? "application/json"], contentLength: renamed.readableBytes)
        handler.writeBody(renamed, flush: false)
        handler.finish(request)
    }

    /// The stream's end; a fault is said as a last event, since the status line is long gone.
    private func endStream(fault: String?) {
        if let fault {
            request.facts.error = fault
            let event = OpenAIError(.badGateway, fault, type: "server_error", code: "upstream_stream_error")
            handler.writeBody(ByteBuffer(bytes: Data("data: ".utf8) + event.json + Data("\n\n".utf8)), flush: false)
        }
        complete(reusable: fault == nil)
        handler.finish(request)
    }

    private func upstreamFailed(_ error: UpstreamError) {
        services.metrics.upstreamError(error.code)
        fail(Gateway.map(error))
    }

    /// Refuses with `error` before anything of the answer was written.
    private func fail(_ error: OpenAIError) {
        guard !isDone else { return }
        complete(reusable: false)
        handler.respond(request, with: error)
    }

    /// The client closed its connection: nothing more is written, the upstream request is closed (llama-server
    /// stops generating when its connection goes), the slot is given back.
    func clientLeft() {
        guard !isDone else { return }
        slotWait?.cancel()
        complete(reusable: false)
        request.log(status: 499, error: "the client closed the connection")
    }

    func clientWritable(_ writable: Bool) {
        clientWritable = writable
        connection?.setReading(writable)
    }

    private var isDone: Bool {
        if case .done = phase { true } else { false }
    }

    /// Ends the exchange once: timers off, the connection back to the pool or closed, the slot given back.
    private func complete(reusable: Bool) {
        phase = .done
        cancelTimers()
        if let connection {
            if reusable, upstreamKeepsAlive {
                if !clientWritable { connection.setReading(true) }
                services.pools.pool(on: eventLoop).giveBack(connection)
            } else {
                connection.close()
            }
            self.connection = nil
        }
        lease?.release()
        lease = nil
        services.metrics.duration(route: request.route.rawValue, ContinuousClock.now - request.started)
    }

    // MARK: Timeouts

    private func armTimers() {
        if !check.streaming {
            totalDeadline = eventLoop.assumeIsolated().scheduleTask(in: services.upstreamTotalTimeout) { [weak self] in
                self?.upstreamFailed(UpstreamError(.totalTimeout, "no complete answer within the total timeout"))
            }
        }
        scheduleIdleCheck(in: services.upstreamIdleTimeout)
    }

    private func scheduleIdleCheck(in delay: TimeAmount) {
        idleCheck = eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            guard let self, !self.isDone else { return }
            let silent = NIODeadline.now() - self.lastUpstreamByte
            if silent >= self.services.upstreamIdleTimeout {
                self.timedOutIdle()
            } else {
                self.scheduleIdleCheck(in: self.services.upstreamIdleTimeout - silent)
            }
        }
    }

    private func timedOutIdle() {
        if case .streaming = phase {
            services.metrics.upstreamError(.idleTimeout)
            endStream(fault: "the meta model's stream broke off: nothing arrived within the idle timeout")
        } else {
            upstreamFailed(UpstreamError(.idleTimeout, "nothing arrived within the idle timeout"))
        }
    }

    private func cancelTimers() {
        totalDeadline?.cancel()
        totalDeadline = nil
        idleCheck?.cancel()
        idleCheck = nil
    }

    private static func connectFailure(_ error: any Error) -> UpstreamError {
        if case ChannelError.connectTimeout = error {
            return UpstreamError(.connectTimeout, "no connection within 2 s")
        }
        let failures = (error as? NIOConnectionError)?.connectionErrors.map(\.error) ?? [error]
        if failures.contains(where: { ($0 as? IOError)?.errnoCode == ECONNREFUSED }) {
            return UpstreamError(.connectionRefused, "connection refused")
        }
        if failures.contains(where: { if case ChannelError.connectTimeout = $0 { true } else { false } }) {
            return UpstreamError(.connectTimeout, "no connection within 2 s")
        }
        return UpstreamError(.connectionFailed, "\(error)")
    }
}
