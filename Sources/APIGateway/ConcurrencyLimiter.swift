import Synchronization

/// At most `limit` requests in flight; more wait in a FIFO queue of bounded depth, each for a bounded time.
///
/// The meta model has a fixed number of slots: sending it more requests than that only makes llama-server
/// queue them itself, invisibly and without bound. Here the queue is visible, bounded and fair.
final class ConcurrencyLimiter: Sendable {
    enum Refusal: Error, Equatable {
        /// `maxQueue` requests are already waiting.
        case queueFull(waiting: Int)
        /// The request waited `queueTimeout` without getting a slot.
        case timedOut
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var limit: Int
        var provisional: Bool
        var inFlight = 0
        var queue: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>
    let maxQueue: Int
    let queueTimeout: Duration

    init(limit: Int, maxQueue: Int, queueTimeout: Duration, limitIsProvisional: Bool = false) {
        state = Mutex(State(limit: max(1, limit), provisional: limitIsProvisional))
        self.maxQueue = maxQueue
        self.queueTimeout = queueTimeout
    }

    /// Requests in flight and waiting, for metrics and tests.
    var load: (inFlight: Int, waiting: Int) { state.withLock { ($0.inFlight, $0.queue.count) } }

    /// How many requests may be in flight at once.
    var limit: Int { state.withLock { $0.limit } }

    /// Whether the limit is a stand-in until the upstream's slot count is known.
    var limitIsProvisional: Bool { state.withLock { $0.provisional } }

    /// Sets the limit for good (e.g. once the upstream's slot count is known); waiters move up if it grew.
    func setLimit(_ limit: Int) {
        let admitted = state.withLock { state -> [Waiter] in
            state.limit = max(1, limit)
            state.provisional = false
            var admitted: [Waiter] = []
            while state.inFlight < state.limit, !state.queue.isEmpty {
                admitted.append(state.queue.removeFirst())
                state.inFlight += 1
            }
            return admitted
        }
        admitted.forEach { $0.continuation.resume() }
    }

    /// Takes a slot if one is free and nobody waits; call ``release()`` exactly once afterwards when it did.
    func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.inFlight < state.limit, state.queue.isEmpty else { return false }
            state.inFlight += 1
            return true
        }
    }

    /// Returns once the caller holds a slot; call ``release()`` exactly once afterwards.
    func acquire() async throws {
        let id: UInt64? = state.withLock { state in
            if state.inFlight < state.limit, state.queue.isEmpty {
                state.inFlight += 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        let timeout = queueTimeout
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let refusal = state.withLock { state -> Refusal? in
                    // A slot may have come free since the fast path looked.
                    if state.inFlight < state.limit, state.queue.isEmpty {
                        state.inFlight += 1
                        continuation.resume()
                        return nil
                    }
                    guard state.queue.count < maxQueue else { return .queueFull(waiting: state.queue.count) }
                    state.queue.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let refusal {
                    continuation.resume(throwing: refusal)
                    return
                }
                Task { [weak self] in
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    self?.abandon(id, with: Refusal.timedOut)
                }
            }
        } onCancel: {
            abandon(id, with: CancellationError())
        }
    }

    /// Gives the slot to the longest waiter, or frees it.
    func release() {
        let next = state.withLock { state -> Waiter? in
            if !state.queue.isEmpty, state.inFlight <= state.limit { return state.queue.removeFirst() }
            state.inFlight -= 1
            return nil
        }
        next?.continuation.resume()
    }

    /// Takes waiter `id` out of the queue (if it is still there) and fails its wait.
    private func abandon(_ id: UInt64, with error: any Error) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.queue.firstIndex(where: { $0.id == id }) else { return nil }
            return state.queue.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }
}
