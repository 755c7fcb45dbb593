import Foundation
import Synchronization

/// A thread of its own that runs the work it is given, one piece at a time, in order. For blocking C that must
/// stay off Swift's cooperative pool (two threads on small machines) and on one thread: an sd_journal handle,
/// SQLite writes.
public final class DedicatedThread: Sendable {
    /// What the thread and its callers share; the thread holds this, not the `DedicatedThread`.
    private final class Shared: Sendable {
        struct Queue {
            var jobs: [@Sendable () -> Void] = []
            var stopping = false
        }

        let queue = Mutex(Queue())
        let wake = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)

        func loop() {
            while true {
                wake.wait()
                let (next, stopping) = queue.withLock { state in (state.jobs.isEmpty ? nil : state.jobs.removeFirst(), state.stopping) }
                if let next {
                    next()
                } else if stopping {
                    break
                }
            }
            finished.signal()
        }
    }

    private let shared = Shared()

    public init(name: String) {
        let shared = self.shared
        let thread = Thread { shared.loop() }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the thread and returns its result; the caller's task waits without holding a pool thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = shared.queue.withLock { state -> Bool in
                guard !state.stopping else { return false }
                state.jobs.append { continuation.resume(with: Result { try body() }) }
                return true
            }
            if accepted {
                shared.wake.signal()
            } else {
                continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Lets the work already given finish, then ends the thread; waits for it.
    public func stop() {
        let first = shared.queue.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        shared.wake.signal()
        shared.finished.wait()
    }
}
