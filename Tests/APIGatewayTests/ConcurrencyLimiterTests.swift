import Synchronization
import TestSupport
import Testing
@testable import APIGateway

@Suite struct ConcurrencyLimiterTests {
    /// Starts a task that acquires a slot and records its name once it has one.
    private func waiter(_ name: String, _ limiter: ConcurrencyLimiter, _ order: Order) -> Task<Void, any Error> {
        Task {
            try await limiter.acquire()
            order.append(name)
        }
    }

    final class Order: Sendable {
        private let names = Mutex<[String]>([])
        func append(_ name: String) { names.withLock { $0.append(name) } }
        var all: [String] { names.withLock { $0 } }
    }

    @Test func admitsUpToTheLimitThenServesWaitersInOrder() async throws {
        let limiter = ConcurrencyLimiter(limit: 2, maxQueue: 10, queueTimeout: .seconds(30))
        try await limiter.acquire()
        try await limiter.acquire()
        let order = Order()
        let first = waiter("first", limiter, order)
        #expect(await eventually(timeout: .seconds(5)) { limiter.load.waiting == 1 })
        let second = waiter("second", limiter, order)
        #expect(await eventually(timeout: .seconds(5)) { limiter.load.waiting == 2 })
        #expect(order.all.isEmpty)
        limiter.release()
        try await first.value
        limiter.release()
        try await second.value
        #expect(order.all == ["first", "second"])
        #expect(limiter.load.inFlight == 2 && limiter.load.waiting == 0)
    }

    @Test func aFullQueueRefusesAtOnce() async throws {
        let limiter = ConcurrencyLimiter(limit: 1, maxQueue: 1, queueTimeout: .seconds(30))
        try await limiter.acquire()
        let queued = Task { try await limiter.acquire() }
        #expect(await eventually(timeout: .seconds(5)) { limiter.load.waiting == 1 })
        await #expect(throws: ConcurrencyLimiter.Refusal.queueFull(waiting: 1)) { try await limiter.acquire() }
        limiter.release()
        try await queued.value
    }

    @Test func aWaitLongerThanTheQueueTimeoutFails() async throws {
        let limiter = ConcurrencyLimiter(limit: 1, maxQueue: 4, queueTimeout: .milliseconds(100))
        try await limiter.acquire()
        await #expect(throws: ConcurrencyLimiter.Refusal.timedOut) { try await limiter.acquire() }
        #expect(limiter.load == (1, 0))
    }

    @Test func aCancelledWaiterLeavesTheQueueWithoutTakingASlot() async throws {
        let limiter = ConcurrencyLimiter(limit: 1, maxQueue: 4, queueTimeout: .seconds(30))
        try await limiter.acquire()
        let cancelled = Task { try await limiter.acquire() }
        #expect(await eventually(timeout: .seconds(5)) { limiter.load.waiting == 1 })
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(limiter.load == (1, 0))
        limiter.release()
        #expect(limiter.load == (0, 0))
    }

    @Test func learningALargerLimitAdmitsWaiters() async throws {
        let limiter = ConcurrencyLimiter(limit: 1, maxQueue: 4, queueTimeout: .seconds(30), limitIsProvisional: true)
        #expect(limiter.limitIsProvisional)
        try await limiter.acquire()
        let waiting = Task { try await limiter.acquire() }
        #expect(await eventually(timeout: .seconds(5)) { limiter.load.waiting == 1 })
        limiter.setLimit(4)
        try await waiting.value
        #expect(!limiter.limitIsProvisional)
        #expect(limiter.load == (2, 0))
    }
}
