import NIOCore
import NIOHTTP1
import NIOPosix

/// The idle upstream connections of one event loop, reused for the next request on that loop: no thread is
/// crossed and no connection is opened per request. Used only on its loop.
final class UpstreamConnectionPool {
    let eventLoop: any EventLoop
    let address: ProxyUpstreamAddress
    private var idle: [UpstreamConnection] = []
    /// A connection idle this long is closed rather than reused: llama-server (cpp-httplib) closes its side after
    /// 5 s, and a request sent as it does is lost to the race; each one it keeps open also holds one of its threads.
    static let maximumIdleTime = TimeAmount.seconds(2)
    private static let maximumIdleConnections = 256

    init(eventLoop: any EventLoop, address: ProxyUpstreamAddress) {
        self.eventLoop = eventLoop
        self.address = address
    }

    /// An idle connection (unless `fresh`), or a new one within `connectTimeout`; `completion` runs on the loop.
    func connection(fresh: Bool, connectTimeout: TimeAmount, counter: UpstreamConnectionCounter,
                    completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        while !fresh, let candidate = idle.popLast() {
            candidate.leftIdle()
            if candidate.isOpen {
                completion(.success(candidate))
                return
            }
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

    /// Takes back a connection whose exchange ended cleanly; it is closed after ``maximumIdleTime`` unused.
    func giveBack(_ connection: UpstreamConnection) {
        guard connection.isOpen, !connection.closesAfterExchange, idle.count < Self.maximumIdleConnections else {
            connection.close()
            return
        }
        connection.earlierExchanges += 1
        let expiry = eventLoop.assumeIsolated().scheduleTask(in: Self.maximumIdleTime) { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.idle.removeAll { $0 === connection }
            connection.leftIdle()
            connection.close()
        }
        connection.becameIdle(expiry: expiry) { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.idle.removeAll { $0 === connection }
        }
        idle.append(connection)
    }
}
