import FoundationEssentials
import Synchronization

/// The project's only HTTP client for model servers: async/await over libcurl's multi interface.
///
/// All transfers of one client share one ``CurlEventLoop`` thread and its connection cache. Cancelling the
/// calling task (or dropping a streamed body) aborts the transfer within the loop's poll interval, also
/// while the server is silent.
public final class UpstreamHTTPClient: Sendable {
    /// The process-wide client; each instance owns a thread, so share this one unless isolation is wanted.
    public static let shared = UpstreamHTTPClient(threadName: "sysadmin-curl")

    private let loop: CurlEventLoop
    /// Its transfers in memory.
    let census = TransferCensus()
    /// Error bodies are kept up to this size so a misbehaving server cannot fill memory.
    private static let errorBodyLimit = 64 * 1024

    public init(threadName: String = "sysadmin-curl") {
        loop = CurlEventLoop(name: threadName)
    }

    /// Sends `request` and collects the whole response. Non-2xx statuses are returned, not thrown.
    ///
    /// A body larger than `maximumBodyBytes` aborts the transfer with ``UpstreamError/Code/invalidResponse``:
    /// a misbehaving (or hostile remote) server cannot fill the daemon's memory.
    public func execute(_ request: HTTPRequest, maximumBodyBytes: Int = 64 * 1024 * 1024) async throws -> HTTPResponse {
        let collected = Mutex(HTTPResponse(status: 0, headers: [], body: Data()))
        let handle = TransferHandle(loop: loop, census: census)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                do {
                    try handle.submit(request) { event in
                        switch event {
                        case .head(let status, let headers):
                            collected.withLock { $0.status = status; $0.headers = headers }
                        case .body(let data):
                            let fits = collected.withLock { response -> Bool in
                                guard response.body.count + data.count <= maximumBodyBytes else { return false }
                                response.body.append(data)
                                return true
                            }
                            if !fits {
                                handle.cancel(UpstreamError(
                                    .invalidResponse, "\(request.url) sent a body larger than \(maximumBodyBytes) bytes"))
                            }
                        case .finished(let error):
                            if let error { continuation.resume(throwing: error) }
                            else { continuation.resume(returning: collected.withLock { $0 }) }
                        }
                        return true
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            handle.cancel(UpstreamError(.cancelled, "request cancelled"))
        }
    }

    /// Sends `request` and returns as soon as the status and headers are in; the body streams as it arrives.
    ///
    /// A non-2xx status throws ``UpstreamError/Code/httpStatus`` with the (bounded) body, so callers only
    /// ever iterate successful streams. At most `bufferLimit` unconsumed bytes are held: beyond that the
    /// transfer pauses until the consumer catches up.
    public func stream(_ request: HTTPRequest, bufferLimit: Int = 256 * 1024) async throws -> HTTPStreamingResponse {
        let storage = StreamingBodyStorage(limit: max(1, bufferLimit), loop: loop)
        let handle = TransferHandle(loop: loop, census: census)

        struct HeadState {
            var continuation: CheckedContinuation<(Int, [(name: String, value: String)]), any Error>?
            var errorStatus: Int?
            var errorBody = Data()
        }
        let state = Mutex(HeadState())

        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Int, [(name: String, value: String)]), any Error>) in
                state.withLock { $0.continuation = continuation }
                do {
                    // Weak: a consumer that drops the body must let the storage go, which aborts the transfer.
                    let transfer = try handle.submit(request) { [weak storage] event in
                        switch event {
                        case .head(let status, let headers):
                            if (200..<300).contains(status) {
                                state.withLock { $0.continuation.take() }?.resume(returning: (status, headers))
                            } else {
                                state.withLock { $0.errorStatus = status }
                            }
                            return true
                        case .body(let data):
                            let isError = state.withLock { s -> Bool in
                                guard s.errorStatus != nil else { return false }
                                if s.errorBody.count < Self.errorBodyLimit { s.errorBody.append(data.prefix(Self.errorBodyLimit - s.errorBody.count)) }
                                return true
                            }
                            if isError { return true }
                            return storage?.offer(data) ?? true
                        case .finished(let error):
                            let (pending, errorStatus, errorBody) = state.withLock { s in
                                (s.continuation.take(), s.errorStatus, s.errorBody)
                            }
                            let failure = error ?? errorStatus.map { status in
                                UpstreamError(.httpStatus, "\(request.method.rawValue) \(request.url) answered \(status)",
                                              status: status, body: String(decoding: errorBody, as: UTF8.self))
                            }
                            if let pending {
                                pending.resume(throwing: failure ?? UpstreamError(.invalidResponse, "the response ended before its headers"))
                            }
                            storage?.finish(failure)
                            return true
                        }
                    }
                    storage.attach(transfer)
                } catch {
                    state.withLock { $0.continuation = nil }
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            handle.cancel(UpstreamError(.cancelled, "request cancelled"))
        }
        return HTTPStreamingResponse(status: head.0, headers: head.1, body: HTTPBodyStream(storage: storage))
    }
}

/// The transfer of one call, reachable from the cancellation handler, which may run before it exists.
private final class TransferHandle: Sendable {
    private let transfer = Mutex<CurlTransfer?>(nil)
    private let loop: CurlEventLoop
    private let census: TransferCensus

    init(loop: CurlEventLoop, census: TransferCensus) {
        self.loop = loop
        self.census = census
    }

    /// Creates the transfer and hands it to the loop; if the calling task is already cancelled, it is
    /// cancelled at once (the loop then finishes it with the error).
    @discardableResult
    func submit(_ request: HTTPRequest, handler: @escaping TransferEventHandler) throws -> CurlTransfer {
        let created = try CurlTransfer(request: request, census: census, onEvent: handler)
        transfer.withLock { $0 = created }
        if Task.isCancelled { created.requestCancel(UpstreamError(.cancelled, "request cancelled"), on: loop) }
        loop.submit(created)
        return created
    }

    func cancel(_ error: UpstreamError) {
        transfer.withLock { $0 }?.requestCancel(error, on: loop)
    }
}
