import Hummingbird
import Synchronization
import UpstreamClient

/// Hummingbird's request context plus a ``RequestRecord``: what the log line needs but only the route
/// handler learns.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let record = RequestRecord()
    /// The request's id (`X-Request-Id`), set by the logging middleware, which also puts it on `logger`; it goes on to
    /// the daemon's agent, so the daemon's log lines of the request carry it too.
    var requestID = ""

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}

/// The model and token counts of one request, and for a stream the moment it ends — after the logging
/// middleware has long returned the response head.
final class RequestRecord: Sendable {
    struct Facts: Sendable {
        var model: String?
        var promptTokens = 0
        var completionTokens = 0
        var streamed = false
        /// Why the request was refused or failed, for the log line.
        var error: String?

        /// Adds reported usage (a response's, or a stream chunk's).
        mutating func add(_ usage: Usage?) {
            guard let usage else { return }
            promptTokens += usage.promptTokens
            completionTokens += usage.completionTokens
        }
    }

    private let facts = Mutex(Facts())
    private let onStreamEnd = Mutex<(@Sendable (Facts) -> Void)?>(nil)

    var current: Facts { facts.withLock { $0 } }

    func update(_ change: (inout Facts) -> Void) {
        facts.withLock { change(&$0) }
    }

    /// Adds reported usage (a response's, or a stream chunk's).
    func add(_ usage: Usage?) {
        update { $0.add(usage) }
    }

    /// What to do when the stream ends (the request's log line); set by the middleware before the body runs.
    func whenStreamEnds(_ action: @escaping @Sendable (Facts) -> Void) {
        onStreamEnd.withLock { $0 = action }
    }

    func streamEnded() {
        let action = onStreamEnd.withLock { action in
            defer { action = nil }
            return action
        }
        action?(current)
    }
}
