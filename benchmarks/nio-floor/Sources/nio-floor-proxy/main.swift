// The least a SwiftNIO reverse proxy can do, the baseline ai-sysadmin-api is measured against in the gateway
// benchmark: HTTP/1.1 keep-alive on both sides, upstream connections pooled per event loop (as nginx's `keepalive`
// and the gateway pool theirs), the response's parts relayed as NIO's codecs hand them over, one flush per read.
// No checks, queue, timeouts, logs, metrics or back-pressure: what ai-sysadmin-api costs beyond this is its own;
// what this costs beyond nginx is NIO's (nginx also writes an access log, which this does not).
//
//   nio-floor-proxy PORT UPSTREAM_PORT [EVENT_LOOPS]      (upstream on 127.0.0.1; event loops default to the cores)
import NIOCore
import NIOHTTP1
import NIOPosix

/// One event loop's idle upstream connections; used on that loop only.
final class IdleUpstreams {
    var channels: [any Channel] = []
}

/// One client connection: its requests, one at a time, forwarded over an upstream connection it holds while
/// connected and hands back to its loop's idle list when it goes.
final class ClientConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let upstreamPort: Int
    private let idle: NIOLoopBound<IdleUpstreams>
    private var upstream: (any Channel)?
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    /// Whether an answer is being relayed: an upstream connection is only handed back between answers.
    private var answering = false

    init(upstreamPort: Int, idle: NIOLoopBound<IdleUpstreams>) {
        self.upstreamPort = upstreamPort
        self.idle = idle
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            answering = true
            if let upstream, upstream.isActive {
                forward(on: upstream, client: context.channel)
            } else if let pooled = takeIdle() {
                adopt(pooled, client: context.channel)
            } else {
                connect(client: context.channel, on: context.eventLoop)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let upstream {
            if !answering, upstream.isActive, let response = try? upstream.pipeline.syncOperations.handler(type: UpstreamResponse.self) {
                response.client = nil
                response.connection = nil
                idle.value.channels.append(upstream)
            } else {
                upstream.close(promise: nil)
            }
        }
        upstream = nil
        context.fireChannelInactive()
    }

    /// The upstream's answer ended: the next request may go over the same connection.
    func answered() {
        answering = false
    }

    private func takeIdle() -> (any Channel)? {
        while let channel = idle.value.channels.popLast() {
            if channel.isActive { return channel }
        }
        return nil
    }

    private func adopt(_ channel: any Channel, client: any Channel) {
        upstream = channel
        guard let response = try? channel.pipeline.syncOperations.handler(type: UpstreamResponse.self) else {
            channel.close(promise: nil)
            return connect(client: client, on: client.eventLoop)
        }
        response.client = client
        response.connection = self
        forward(on: channel, client: client)
    }

    private func connect(client: any Channel, on eventLoop: any EventLoop) {
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamResponse())
                }
            }
            .connect(host: "127.0.0.1", port: upstreamPort)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel): self.adopt(channel, client: client)
                case .failure: client.close(promise: nil)
                }
            }
    }

    private func forward(on upstream: any Channel, client: any Channel) {
        guard let head else { return }
        if let response = try? upstream.pipeline.syncOperations.handler(type: UpstreamResponse.self) {
            response.closesClient = !head.isKeepAlive
        }
        var upstreamHead = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri)
        upstreamHead.headers.add(name: "Host", value: "127.0.0.1:\(upstreamPort)")
        if let type = head.headers.first(name: "Content-Type") { upstreamHead.headers.add(name: "Content-Type", value: type) }
        upstreamHead.headers.add(name: "Content-Length", value: String(body.readableBytes))
        upstream.write(HTTPClientRequestPart.head(upstreamHead), promise: nil)
        upstream.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        upstream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }
}

/// The upstream's answer, written to its client as it comes and flushed once per read. An upstream that closes
/// between answers is replaced at the next request; one that closes mid-answer takes the client with it (its answer
/// cut short, as it was).
final class UpstreamResponse: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    var client: (any Channel)?
    var connection: ClientConnection?
    /// The client asked to close after this answer (`Connection: close`, or HTTP/1.0).
    var closesClient = false
    private var midAnswer = false
    private var unflushed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let client else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            midAnswer = true
            var headers = head.headers
            headers.remove(name: "Connection")
            headers.remove(name: "Keep-Alive")
            if closesClient { headers.add(name: "Connection", value: "close") }
            client.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)),
                         promise: nil)
        case .body(let bytes):
            client.write(HTTPServerResponsePart.body(.byteBuffer(bytes)), promise: nil)
        case .end:
            midAnswer = false
            connection?.answered()
            let written = client.writeAndFlush(HTTPServerResponsePart.end(nil))
            unflushed = false
            if closesClient { written.whenComplete { _ in client.close(promise: nil) } }
            return
        }
        unflushed = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if unflushed { client?.flush() }
        unflushed = false
    }

    func channelInactive(context: ChannelHandlerContext) {
        if midAnswer, let client {
            client.flush()
            client.close(promise: nil)
        }
        context.fireChannelInactive()
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let port = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
    fatalError("usage: nio-floor-proxy PORT UPSTREAM_PORT [EVENT_LOOPS]")
}
let loops = arguments.count > 3 ? Int(arguments[3]) ?? System.coreCount : System.coreCount
let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
var idleByLoop: [ObjectIdentifier: NIOLoopBound<IdleUpstreams>] = [:]
for loop in group.makeIterator() {
    idleByLoop[ObjectIdentifier(loop)] = try loop.submit { NIOLoopBound(IdleUpstreams(), eventLoop: loop) }.wait()
}
let idleUpstreams = idleByLoop
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(
                ClientConnection(upstreamPort: upstreamPort, idle: idleUpstreams[ObjectIdentifier(channel.eventLoop)]!))
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
try server.closeFuture.wait()
