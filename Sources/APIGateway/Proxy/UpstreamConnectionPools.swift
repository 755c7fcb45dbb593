import NIOCore
import Synchronization

/// One ``UpstreamConnectionPool`` per event loop, made on first use.
final class UpstreamConnectionPools: Sendable {
    let address: ProxyUpstreamAddress
    let counter: UpstreamConnectionCounter
    private let allIdle: IdleConnectionBudget
    private let pools = Mutex<[ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>]>([:])

    /// `maximumIdle`: how many idle connections all loops may keep together (the model's slots).
    init(address: ProxyUpstreamAddress, metrics: GatewayMetrics, maximumIdle: @escaping @Sendable () -> Int) {
        self.address = address
        counter = UpstreamConnectionCounter(metrics: metrics)
        allIdle = IdleConnectionBudget(maximum: maximumIdle)
    }

    var idleConnections: Int { allIdle.idle }

    /// The pool of `eventLoop`; call on that loop.
    func pool(on eventLoop: any EventLoop) -> UpstreamConnectionPool {
        let key = ObjectIdentifier(eventLoop)
        return pools.withLock { pools in
            if let pool = pools[key] { return pool.value }
            let pool = UpstreamConnectionPool(eventLoop: eventLoop, address: address, allIdle: allIdle)
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

/// Idle upstream connections kept by all loops' pools together, within a maximum read when one is kept.
final class IdleConnectionBudget: Sendable {
    private let count = Atomic<Int>(0)
    private let maximum: @Sendable () -> Int

    init(maximum: @escaping @Sendable () -> Int) {
        self.maximum = maximum
    }

    /// Counts one more idle connection if the budget allows it.
    func reserve() -> Bool {
        let maximum = maximum()
        var current = count.load(ordering: .relaxed)
        while current < maximum {
            let (exchanged, original) = count.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() {
        count.subtract(1, ordering: .relaxed)
    }

    var idle: Int { count.load(ordering: .relaxed) }
}
