import Foundation
import Synchronization

/// Polls until `condition` holds; false if `timeout` passed first. Tests wait on facts, never on sleeps.
public func eventually(timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// Polls an asynchronous `condition` (an actor's state) until it holds; false if `timeout` passed first.
public func eventually(timeout: Duration, _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !(await condition()) {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// Whether `pid` names a live (not zombie) process.
public func isAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// A one-shot signal between a test and a thread or task: opened once, awaited from a thread (blocking) or
/// from a task (suspending).
public final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream<Void>.makeStream()
    }

    public func open() {
        // Enough permits for every thread that might wait; a gate is opened once.
        for _ in 0..<64 { semaphore.signal() }
        continuation.finish()
    }

    /// Blocks the calling thread (not a task!) until opened; false when `timeout` passed first.
    @discardableResult
    public func wait(timeout: Duration = .seconds(10)) -> Bool {
        semaphore.wait(timeout: .now() + .milliseconds(Int(timeout / .milliseconds(1)))) == .success
    }

    /// Suspends until opened; false when `timeout` passed first.
    public func waitAsync(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { [stream] in
                for await _ in stream {}
                return !Task.isCancelled
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

/// Runs blocking work (a socket read) on a thread of its own, so the test's task suspends instead of blocking one of
/// the cooperative pool's threads (two on this machine).
public func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
