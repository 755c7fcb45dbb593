// The least a SwiftNIO reverse proxy can do, as a floor for ai-sysadmin-api in the gateway benchmark: HTTP/1.1
// keep-alive on both sides, each client connection with one upstream connection on its own event loop, the
// response's parts relayed as NIO's codecs hand them over. No checks, no queue, no timeouts, no logs, no metrics,
// no back-pressure: whatever ai-sysadmin-api costs beyond this is its own, whatever this costs beyond nginx is NIO's.
//
//   nio-floor-proxy PORT UPSTREAM_PORT [EVENT_LOOPS]      (upstream on 127.0.0.1; event loops default to the cores)
import NIOCore
import NIOHTTP1
import NIOPosix

/// One client connection: its requests, one at a time, forwarded over its upstream connection.
final class ClientConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let upstreamPort: Int
    private var upstream: (any Channel)?
    private var response: UpstreamResponse?
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(upstreamPort: Int) {
        self.upstreamPort = upstreamPort
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            if let upstream {
                forward(on: upstream)
            } else {
                connect(context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.close(promise: nil)
        context.fireChannelInactive()
    }

    private func connect(context: ChannelHandlerContext) {
        let client = context.channel
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamResponse(client: client))
                }
            }
            .connect(host: "127.0.0.1", port: upstreamPort)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.upstream = channel
                    self.response = try? channel.pipeline.syncOperations.handler(type: UpstreamResponse.self)
                    self.forward(on: channel)
                case .failure:
                    client.close(promise: nil)
                }
            }
    }

    private func forward(on upstream: any Channel) {
        guard let head else { return }
        response?.closesClient = !head.isKeepAlive
        var upstreamHead = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri)
        upstreamHead.headers.add(name: "Host", value: "127.0.0.1:\(upstreamPort)")
        if let type = head.headers.first(name: "Content-Type") { upstreamHead.headers.add(name: "Content-Type", value: type) }
        upstreamHead.headers.add(name: "Content-Length", value: String(body.readableBytes))
        upstream.write(HTTPClientRequestPart.head(upstreamHead), promise: nil)
        upstream.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        upstream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }
}

/// The upstream's response parts, written to the client as they come; the upstream closing closes the client.
final class UpstreamResponse: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let client: any Channel
    /// The client asked to close after this response (`Connection: close`, or HTTP/1.0).
    var closesClient = false

    init(client: any Channel) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            var headers = head.headers
            headers.remove(name: "Connection")
            headers.remove(name: "Keep-Alive")
            client.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)),
                         promise: nil)
        case .body(let bytes):
            client.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(bytes)), promise: nil)
        case .end:
            let written = client.writeAndFlush(HTTPServerResponsePart.end(nil))
            if closesClient { written.whenComplete { [client] _ in client.close(promise: nil) } }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.close(promise: nil)
        context.fireChannelInactive()
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let port = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
    print("usage: nio-floor-proxy PORT UPSTREAM_PORT [EVENT_LOOPS]")
    exit(2)
}
let loops = arguments.count > 3 ? Int(arguments[3]) ?? System.coreCount : System.coreCount
let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(ClientConnection(upstreamPort: upstreamPort))
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
try server.closeFuture.wait()
