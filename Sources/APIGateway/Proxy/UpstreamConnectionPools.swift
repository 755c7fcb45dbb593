import NIOCore
import Synchronization

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
        return pools.withLock { pools in
            if let pool = pools[key] { return pool.value }
            let pool = UpstreamConnectionPool(eventLoop: eventLoop, address: address)
            pools[key] = NIOLoopBound(pool, eventLoop: eventLoop)
            return pool
        }
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
