import FoundationEssentials
import Synchronization

/// A streamed response body with bounded buffering: the bytes arrive as the server sends them, and when the
/// consumer falls behind by more than the buffer limit the transfer pauses (libcurl stops reading the
/// socket, so TCP pushes back on the server) until the consumer catches up.
///
/// Dropping the last reference, or cancelling the task that iterates, aborts the transfer.
public struct HTTPBodyStream: AsyncSequence, Sendable {
    public typealias Element = Data

    let storage: StreamingBodyStorage

    public struct AsyncIterator: AsyncIteratorProtocol {
        let storage: StreamingBodyStorage

        public mutating func next() async throws -> Data? {
            try await storage.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(storage: storage)
    }

    /// Aborts the transfer (e.g. because whoever the bytes were for has gone); the iteration then ends with
    /// ``UpstreamError/Code/cancelled``.
    public func cancel(reason: String) {
        storage.cancel(UpstreamError(.cancelled, reason))
    }
}

/// The buffer between the event loop (producer) and one consumer.
final class StreamingBodyStorage: Sendable {
    private struct State {
        var chunks: [Data] = []
        var firstChunk = 0
        var bufferedBytes = 0
        var end: UpstreamError??
        var waiter: CheckedContinuation<Data?, any Error>?
        var paused = false
    }

    private let state = Mutex(State())
    /// Above this many unconsumed bytes the transfer pauses; it resumes below half of it.
    let limit: Int
    private let transfer: Mutex<CurlTransfer?> = Mutex(nil)
    private let loop: CurlEventLoop

    init(limit: Int, loop: CurlEventLoop) {
        precondition(limit > 0, "a body buffer needs room for at least one byte")
        self.limit = limit
        self.loop = loop
    }

    deinit {
        cancel(UpstreamError(.cancelled, "the response body was dropped"))
    }

    func attach(_ transfer: CurlTransfer) {
        self.transfer.withLock { $0 = transfer }
    }

    /// Unconsumed bytes held right now (for tests and metrics).
    var bufferedBytes: Int { state.withLock { $0.bufferedBytes } }
    var isPaused: Bool { state.withLock { $0.paused } }

    // MARK: Event-loop side

    /// Takes `data` unless the buffer is full; false asks libcurl to pause and redeliver it later.
    func offer(_ data: Data) -> Bool {
        enum Decision { case handOff(CheckedContinuation<Data?, any Error>), buffered, refused }
        let decision = state.withLock { state -> Decision in
            if let waiter = state.waiter {
                state.waiter = nil
                return .handOff(waiter)
            }
            if state.bufferedBytes >= limit {
                state.paused = true
                return .refused
            }
            state.chunks.append(data)
            state.bufferedBytes += data.count
            return .buffered
        }
        switch decision {
        case .handOff(let waiter):
            waiter.resume(returning: data)
            return true
        case .buffered:
            return true
        case .refused:
            return false
        }
    }

    func finish(_ error: UpstreamError?) {
        let waiter = state.withLock { state -> CheckedContinuation<Data?, any Error>? in
            state.end = .some(error)
            defer { state.waiter = nil }
            return state.waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    // MARK: Consumer side

    func next() async throws -> Data? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Data?, any Error>) in
                enum Outcome { case chunk(Data, resume: Bool), end(UpstreamError?), wait }
                let outcome = state.withLock { state -> Outcome in
                    if state.firstChunk < state.chunks.count {
                        let chunk = state.chunks[state.firstChunk]
                        state.firstChunk += 1
                        state.bufferedBytes -= chunk.count
                        if state.firstChunk == state.chunks.count {
                            state.chunks.removeAll(keepingCapacity: true)
                            state.firstChunk = 0
                        }
                        let resume = state.paused && state.bufferedBytes <= limit / 2
                        if resume { state.paused = false }
                        return .chunk(chunk, resume: resume)
                    }
                    if let end = state.end { return .end(end) }
                    // Never paused here: a pause needs `limit` buffered bytes, and draining to half resumes.
                    state.waiter = continuation
                    return .wait
                }
                switch outcome {
                case .chunk(let data, let resume):
                    if resume, let transfer = transfer.withLock({ $0 }) { loop.resume(transfer) }
                    continuation.resume(returning: data)
                case .end(nil):
                    continuation.resume(returning: nil)
                case .end(.some(let error)):
                    continuation.resume(throwing: error)
                case .wait:
                    break
                }
            }
        } onCancel: {
            cancel(UpstreamError(.cancelled, "request cancelled"))
        }
    }

    func cancel(_ error: UpstreamError) {
        let finished = state.withLock { $0.end != nil }
        guard !finished, let transfer = transfer.withLock({ $0 }) else { return }
        transfer.requestCancel(error, on: loop)
    }
}
