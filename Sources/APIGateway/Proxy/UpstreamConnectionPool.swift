import NIOCore
import NIOHTTP1
import NIOPosix

/// The idle upstream connections of one event loop, reused for the next request on that loop: no thread is
/// crossed and no connection is opened per request. Used only on its loop.
final class UpstreamConnectionPool {
    let eventLoop: any EventLoop
    let address: ProxyUpstreamAddress
    private var idle: [UpstreamConnection] = []
    /// Counts idle connections across every loop's pool, so together they stay within the model's slots.
    private let allIdle: IdleConnectionBudget
    /// A connection idle this long is closed rather than reused: llama-server (cpp-httplib) closes its side after
    /// 5 s, and a request sent as it does is lost to the race; each one it keeps open also holds one of its threads.
    static let maximumIdleTime = TimeAmount.seconds(2)

    init(eventLoop: any EventLoop, address: ProxyUpstreamAddress, allIdle: IdleConnectionBudget) {
        self.eventLoop = eventLoop
        self.address = address
        self.allIdle = allIdle
    }

    /// An idle connection (unless `fresh`), or a new one within `connectTimeout`; `completion` runs on the loop.
    func connection(fresh: Bool, connectTimeout: TimeAmount, counter: UpstreamConnectionCounter,
                    completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        while !fresh, let candidate = idle.popLast() {
            candidate.leftIdle()
            allIdle.release()
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
        // llama-server serves each open connection with one of its few HTTP threads (slots + 2): connections kept
        // idle beyond the slots would leave its health probe and the daemon's own calls waiting for one.
        guard connection.isOpen, !connection.closesAfterExchange, allIdle.reserve() else {
            connection.close()
            return
        }
        connection.earlierExchanges += 1
        let expiry = eventLoop.assumeIsolated().scheduleTask(in: Self.maximumIdleTime) { [weak self, weak connection] in
            guard let self, let connection else { return }
            connection.leftIdle()
            self.forget(connection)
            connection.close()
        }
        connection.becameIdle(expiry: expiry) { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.forget(connection)
        }
        idle.append(connection)
    }

    /// Takes an idle connection that expired or closed out of the pool and the budget, once.
    private func forget(_ connection: UpstreamConnection) {
        guard let index = idle.firstIndex(where: { $0 === connection }) else { return }
        idle.remove(at: index)
        allIdle.release()
    }
}
