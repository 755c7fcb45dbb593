import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import UpstreamClient

/// Where the proxy path sends the meta model's requests: a plain-HTTP server, reached by host and port.
/// An `https` upstream (a remote backend behind TLS) has none, and its requests take the libcurl path.
struct ProxyUpstreamAddress: Sendable, Equatable {
    let host: String
    let port: Int
    /// The base URL's path (`/prefix`), before the route.
    let pathPrefix: String
    /// The `Host` header.
    let authority: String

    init?(baseURL: String) {
        guard let components = URLComponents(string: baseURL), components.scheme?.lowercased() == "http",
              var host = components.host, !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        port = components.port ?? 80
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        pathPrefix = path
        authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// One keep-alive HTTP/1.1 connection to the upstream, owned by one event loop and used only on it: one
/// exchange at a time, its response parts handed to whoever sent the request.
final class UpstreamConnection {
    enum Event {
        case part(HTTPClientResponsePart)
        /// The connection closed or failed; `error` is why, when NIO said.
        case closed((any Error)?)
    }

    let channel: any Channel
    /// How many exchanges this connection has carried before the current one.
    fileprivate(set) var earlierExchanges = 0
    fileprivate var idleSince: NIODeadline?
    private var receiver: ((Event) -> Void)?
    private(set) var isOpen = true
    /// The pool's hook: an idle connection that closes leaves it.
    fileprivate var onIdleClose: (() -> Void)?

    fileprivate init(channel: any Channel) {
        self.channel = channel
    }

    /// Sends one request; `receiver` gets its response parts, then nothing once it has seen `.end` or `.closed`.
    func send(_ head: HTTPRequestHead, body: ByteBuffer, receiver: @escaping (Event) -> Void) {
        self.receiver = receiver
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// Stops or resumes reading the response: back-pressure from a client that reads slower than the model writes.
    func setReading(_ reading: Bool) {
        channel.setOption(ChannelOptions.autoRead, value: reading).whenFailure { _ in }
        if reading { channel.read() }
    }

    func close() {
        receiver = nil
        guard isOpen else { return }
        isOpen = false
        channel.close(promise: nil)
    }

    fileprivate func received(_ part: HTTPClientResponsePart) {
        guard let receiver else {
            // Bytes on an idle connection: nothing asked for them, so it cannot be trusted with the next request.
            close()
            return
        }
        if case .end = part { self.receiver = nil }
        receiver(.part(part))
    }

    fileprivate func closed(_ error: (any Error)?) {
        isOpen = false
        let receiver = self.receiver
        self.receiver = nil
        receiver?(.closed(error))
        onIdleClose?()
        onIdleClose = nil
    }
}

/// Passes one upstream channel's response parts and its closing to its ``UpstreamConnection``.
private final class UpstreamConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    var connection: UpstreamConnection?
    private var closedWith: (any Error)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.received(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closedWith = error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection?.closed(closedWith)
        connection = nil
    }
}

/// The idle upstream connections of one event loop, reused for the next request on that loop: no thread is
/// crossed and no connection is opened per request. Used only on its loop.
final class UpstreamConnectionPool {
    let eventLoop: any EventLoop
    let address: ProxyUpstreamAddress
    private var idle: [UpstreamConnection] = []
    /// Connections idle longer than this are closed rather than reused: llama-server (cpp-httplib) closes its
    /// side after 5 s, and a request sent as it does is lost to the race.
    private static let maximumIdleTime = TimeAmount.seconds(2)
    private static let maximumIdleConnections = 256

    fileprivate init(eventLoop: any EventLoop, address: ProxyUpstreamAddress) {
        self.eventLoop = eventLoop
        self.address = address
    }

    /// An idle connection, or a new one within `connectTimeout`; `completion` runs on the pool's loop.
    func connection(connectTimeout: TimeAmount, counter: UpstreamConnectionCounter,
                    completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        let now = NIODeadline.now()
        while let candidate = idle.popLast() {
            candidate.onIdleClose = nil
            if candidate.isOpen, let since = candidate.idleSince, now - since < Self.maximumIdleTime {
                candidate.idleSince = nil
                completion(.success(candidate))
                return
            }
            candidate.close()
        }
        counter.opened()
        let handler = NIOLoopBound(UpstreamConnectionHandler(), eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(host: address.host, port: address.port)
            .assumeIsolated()
            .whenComplete { result in
                completion(result.map { channel in
                    let connection = UpstreamConnection(channel: channel)
                    handler.value.connection = connection
                    return connection
                })
            }
    }

    /// Takes back a connection whose exchange ended cleanly and whose server keeps it open.
    func giveBack(_ connection: UpstreamConnection) {
        guard connection.isOpen, idle.count < Self.maximumIdleConnections else {
            connection.close()
            return
        }
        connection.earlierExchanges += 1
        connection.idleSince = .now()
        connection.onIdleClose = { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.idle.removeAll { $0 === connection }
        }
        idle.append(connection)
    }
}

/// New upstream connections opened by the proxy path over the gateway's life: `/metrics` shows it, and the tests
/// that show connections are reused read it.
final class UpstreamConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)
    private let metrics: GatewayMetrics

    init(metrics: GatewayMetrics) {
        self.metrics = metrics
    }

    func opened() {
        count.add(1, ordering: .relaxed)
        metrics.upstreamConnectionOpened()
    }

    var total: Int { count.load(ordering: .relaxed) }
}

/// One ``UpstreamConnectionPool`` per event loop, made on first use.
final class UpstreamConnectionPools: Sendable {
    let address: ProxyUpstreamAddress
    let counter: UpstreamConnectionCounter
    private let pools = Mutex<[ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>]>([:])

    init(address: ProxyUpstreamAddress, metrics: GatewayMetrics) {
        self.address = address
        counter = UpstreamConnectionCounter(metrics: metrics)
    }

    /// The pool of `eventLoop`; call on that loop.
    func pool(on eventLoop: any EventLoop) -> UpstreamConnectionPool {
        let key = ObjectIdentifier(eventLoop)
        if let pool = pools.withLock({ $0[key] }) { return pool.value }
        let pool = UpstreamConnectionPool(eventLoop: eventLoop, address: address)
        pools.withLock { $0[key] = NIOLoopBound(pool, eventLoop: eventLoop) }
        return pool
    }
}
