import FoundationEssentials
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes
import OpenAIServer

/// Answers the `/v1` requests for the meta model on the connection's own event loop, the way nginx does: the
/// body is read and checked here, forwarded over a pooled keep-alive upstream connection of the same loop
/// (``ProxyExchange``), and the answer written back, without a task, a thread hop or libcurl on the way. Every
/// other request — `/health`, `/metrics`, `/v1/models`, preflights, requests for the daemon's agent — passes to
/// Hummingbird untouched.
///
/// Sits after Hummingbird's connection-state handler, so its idle timeout and graceful shutdown see these
/// requests too. Requests on one connection are answered in order: parts that arrive while an answer is still
/// being written (a pipelining client) wait here, and reading pauses while they do.
final class GatewayProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        case idle
        /// Hummingbird answers this request: its parts pass on until it has read them all and written its end;
        /// `closes` when the request asked for the connection to close after its answer.
        case passingThrough(requestOpen: Bool, responseOpen: Bool, closes: Bool)
        /// A `/v1` request whose body is being read (or, once refused, read and dropped).
        case reading(IncomingRequest)
        case answering(ProxyExchange)
        case closed
    }

    private struct IncomingRequest {
        let request: ProxyRequest
        var body = ByteBuffer()
        var received = 0
        var refusal: OpenAIError?
    }

    private let services: ProxyServices
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var pool: UpstreamConnectionPool?
    /// Parts of requests that came before the previous answer was written.
    private var waiting = CircularBuffer<HTTPRequestPart>()
    private var readHeld = false
    private var takingWaitingParts = false

    init(services: ProxyServices) {
        self.services = services
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pool = services.pools.pool(on: context.eventLoop)
        // Hummingbird's connection-state handler does not pass channelInactive on; the close future always comes.
        context.channel.closeFuture.assumeIsolated().whenComplete { _ in self.clientClosed() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !waiting.isEmpty {
            waiting.append(part)
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch state {
        case .idle:
            guard case .head(let head) = part, let route = services.intercepted(head) else {
                let closes = if case .head(let head) = part { Self.asksToClose(head) } else { false }
                state = .passingThrough(requestOpen: !part.isEnd, responseOpen: true, closes: closes)
                context.fireChannelRead(wrapInboundOut(part))
                return
            }
            let request = ProxyRequest(head: head, route: route, closeAfter: Self.asksToClose(head), services: services)
            state = .reading(IncomingRequest(request: request, refusal: services.refusalAtHead(head)))
        case .passingThrough(true, let responseOpen, let closes):
            state = .passingThrough(requestOpen: !part.isEnd, responseOpen: responseOpen, closes: closes)
            context.fireChannelRead(wrapInboundOut(part))
            if part.isEnd, !responseOpen { passThroughEnded(closes: closes, context: context) }
        case .passingThrough(false, _, _), .answering:
            waiting.append(part)
        case .reading(var incoming):
            state = .idle // not kept while `incoming` is changed, so the buffer is not copied
            switch part {
            case .head:
                // The codec never sends a head before the previous request's end; treat it as the protocol error it is.
                state = .closed
                context.close(promise: nil)
            case .body(var chunk):
                absorb(&chunk, into: &incoming)
                if incoming.refusal != nil, services.stopsDraining(incoming.received, since: incoming.request.started) {
                    // Enough was read and dropped: answer and close without the rest.
                    incoming.request.closeAfter = true
                    dispatch(incoming, context: context)
                } else {
                    state = .reading(incoming)
                }
            case .end:
                dispatch(incoming, context: context)
            }
        case .closed:
            break
        }
    }

    private func absorb(_ chunk: inout ByteBuffer, into incoming: inout IncomingRequest) {
        incoming.received += chunk.readableBytes
        guard incoming.refusal == nil else { return }
        if incoming.received > services.maxBodyBytes {
            incoming.body = ByteBuffer()
            incoming.refusal = services.tooLarge()
            incoming.request.closeAfter = true
        } else {
            incoming.body.writeBuffer(&chunk)
        }
    }

    /// The whole request is read (or as much of a refused one as will be): refuse it, forward it, or hand it to
    /// Hummingbird.
    private func dispatch(_ incoming: IncomingRequest, context: ChannelHandlerContext) {
        let request = incoming.request
        if let refusal = incoming.refusal {
            respond(request, with: refusal)
            return
        }
        let check: RequestCheck
        do {
            check = try services.check(incoming.body, route: request.route)
        } catch {
            respond(request, with: error)
            return
        }
        guard !check.toAgent, let pool else {
            // The daemon's agent is reached over its Unix socket by the libcurl path: hand the request over as read.
            state = .passingThrough(requestOpen: false, responseOpen: true, closes: request.closeAfter)
            context.fireChannelRead(wrapInboundOut(.head(request.head)))
            if incoming.body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(incoming.body))) }
            context.fireChannelRead(wrapInboundOut(.end(nil)))
            return
        }
        request.assignID()
        request.facts.model = check.model
        request.facts.streamed = check.streaming
        let exchange = ProxyExchange(request: request, check: check, services: services, pool: pool, handler: self,
                                     channel: context.channel)
        state = .answering(exchange)
        exchange.start()
    }

    /// The client's connection closed: whatever this path was doing for it ends.
    private func clientClosed() {
        switch state {
        case .answering(let exchange): exchange.clientLeft()
        case .reading(let incoming): incoming.request.log(status: 499, error: "the client closed the connection mid-request")
        case .idle, .passingThrough, .closed: break
        }
        state = .closed
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .answering(let exchange) = state { exchange.clientWritable(context.channel.isWritable) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch state {
        case .idle, .passingThrough:
            context.fireErrorCaught(error)
        case .reading, .answering, .closed:
            // Garbage from the client while this path reads or answers: Hummingbird must not answer into the
            // middle of this response. The connection cannot be trusted any more.
            context.close(promise: nil)
        }
    }

    // MARK: Outbound (Hummingbird's answers)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        context.write(data, promise: promise)
        if case .head(let head) = part, head.headerFields[.connection]?.lowercased().contains("close") == true,
           case .passingThrough(let requestOpen, let responseOpen, _) = state {
            // Hummingbird closes after an answer that says so (the libcurl path's always do).
            state = .passingThrough(requestOpen: requestOpen, responseOpen: responseOpen, closes: true)
        }
        if part.isEnd, case .passingThrough(let requestOpen, true, let closes) = state {
            state = .passingThrough(requestOpen: requestOpen, responseOpen: false, closes: closes)
            if !requestOpen { passThroughEnded(closes: closes, context: context) }
        }
    }

    func read(context: ChannelHandlerContext) {
        // A client that sends its next requests before it has its answer waits for it; reading resumes after.
        if waiting.isEmpty { context.read() } else { readHeld = true }
    }

    // MARK: Answers (called by the exchange, on the loop)

    func respond(_ request: ProxyRequest, with error: OpenAIError) {
        request.facts.error = error.message
        var headers = error.headers
        headers[.contentType] = "application/json"
        if error.headers[.connection] == "close" { request.closeAfter = true }
        let body = ByteBuffer(bytes: error.json)
        writeHead(request, status: error.status, headers: headers, contentLength: body.readableBytes)
        writeBody(body, flush: false)
        finish(request)
    }

    func writeHead(_ request: ProxyRequest, status: HTTPResponse.Status, headers: HTTPFields, contentLength: Int?) {
        guard let context else { return }
        var headers = headers
        request.addResponseHeaders(to: &headers)
        if let contentLength { headers[.contentLength] = String(contentLength) }
        request.headWritten(status: Int(status.code))
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: headers))), promise: nil)
    }

    func writeBody(_ bytes: ByteBuffer, flush: Bool) {
        guard let context else { return }
        context.write(wrapOutboundOut(.body(bytes)), promise: nil)
        if flush { context.flush() }
    }

    /// The answer's end: logged, and the connection ready for the next request (or closed).
    func finish(_ request: ProxyRequest) {
        request.log()
        guard let context else { return }
        if request.closeAfter {
            state = .closed
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        becomeIdle(context: context)
    }

    /// A client that took nothing for the idle timeout: its connection goes, and with it whatever it pipelined.
    func dropClient(_ request: ProxyRequest) {
        request.log(status: 499)
        state = .closed
        context?.close(promise: nil)
    }

    private func passThroughEnded(closes: Bool, context: ChannelHandlerContext) {
        // Hummingbird closes such a connection itself; nothing that waits may start on it.
        if closes { state = .closed } else { becomeIdle(context: context) }
    }

    /// Takes the requests that waited, in order, until one of them is in progress again. A request answered at
    /// once (a refusal) ends in here again: that inner call only marks the connection idle, and the loop of the
    /// outer one goes on, so a burst of pipelined refusals does not nest a call per request.
    private func becomeIdle(context: ChannelHandlerContext) {
        if case .closed = state { return }
        guard context.channel.isActive else {
            state = .closed
            return
        }
        state = .idle
        guard !takingWaitingParts else { return }
        takingWaitingParts = true
        defer { takingWaitingParts = false }
        var fired = false
        while !waiting.isEmpty, takesParts {
            if case .passingThrough = state { fired = true }
            handle(waiting.removeFirst(), context: context)
            if case .passingThrough = state { fired = true }
        }
        // Parts passed on outside a read of this channel reach Hummingbird's request stream only with a read-complete.
        if fired { context.fireChannelReadComplete() }
        if waiting.isEmpty, readHeld {
            readHeld = false
            context.read()
        }
    }

    /// Whether the next part that waits can be taken now.
    private var takesParts: Bool {
        switch state {
        case .idle, .reading, .passingThrough(true, _, _): true
        case .passingThrough(false, _, _), .answering, .closed: false
        }
    }

    private static func asksToClose(_ head: HTTPRequest) -> Bool {
        head.headerFields[.connection]?.lowercased().contains("close") ?? false
    }
}

extension HTTPRequestPart {
    fileprivate var isEnd: Bool {
        if case .end = self { true } else { false }
    }
}

extension HTTPResponsePart {
    fileprivate var isEnd: Bool {
        if case .end = self { true } else { false }
    }
}
