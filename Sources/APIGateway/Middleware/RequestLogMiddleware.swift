import Hummingbird
import Logging
import OpenAIServer
import Synchronization

/// One log line per request, with a request id that is also echoed in `X-Request-Id`.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let logger: Logger
    let metrics: GatewayMetrics
    /// Metric labels come only from this list, so a client cannot create new series by inventing paths.
    static let knownRoutes: Set<String> = [
        "/health", "/ready", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
    ]
    private let counter: Counter

    final class Counter: Sendable {
        private let value = Mutex<UInt64>(0)
        func next() -> UInt64 { value.withLock { $0 += 1; return $0 } }
        var current: UInt64 { value.withLock { $0 } }
    }

    init(logger: Logger, metrics: GatewayMetrics, counter: Counter = Counter()) {
        self.logger = logger
        self.metrics = metrics
        self.counter = counter
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = Self.requestID(counter.next())
        let start = ContinuousClock.now
        let route = Self.knownRoutes.contains(request.uri.path) ? request.uri.path : "other"
        let logger = self.logger, method = "\(request.method)", path = request.uri.path
        @Sendable func log(status: Int, head: Duration, end: Duration, _ facts: RequestRecord.Facts) {
            Self.logLine(logger, id: id, method: method, path: path, route: route, status: status, head: head, end: end, facts: facts)
        }

        var context = context
        context.requestID = id
        context.logger[metadataKey: "ai.request.id"] = "\(id)"
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            if let refusal = error as? OpenAIError { context.record.update { $0.error = refusal.message } }
            response = try error.response(from: request, context: context)
        }
        let head = ContinuousClock.now - start
        metrics.timeToFirstByte(route: route, head)
        metrics.requestFinished(route: route, status: Int(response.status.code))
        response.headers[RequestIDHeader.name] = id
        let status = Int(response.status.code)
        if context.record.current.streamed, status == 200 {
            context.record.whenStreamEnds { facts in log(status: status, head: head, end: ContinuousClock.now - start, facts) }
        } else {
            log(status: status, head: head, end: head, context.record.current)
        }
        return response
    }

    /// A request's one log line: status, time to the response head, and — known only at the end of a stream —
    /// duration, model and tokens. The proxy path writes the same line.
    static func logLine(_ logger: Logger, id: String, method: String, path: String, route: String, status: Int,
                        head: Duration, end: Duration, facts: RequestRecord.Facts) {
        // The supervisor's health probe and metric scrapes come every few seconds: they are not news.
        let level: Logger.Level = route == "/health" || route == "/metrics" ? .debug : .info
        guard logger.logLevel <= level else { return }
        var metadata: Logger.Metadata = [
            "ai.request.id": "\(id)", "ai.request.method": "\(method)", "ai.request.path": "\(path)",
            "ai.response.status": "\(status)", "ai.response.head_ms": "\(milliseconds(head))",
            "ai.response.duration_ms": "\(milliseconds(end))",
        ]
        if let model = facts.model { metadata["ai.request.model"] = "\(model.prefix(128))" }
        if facts.promptTokens + facts.completionTokens > 0 {
            metadata["ai.tokens.prompt"] = "\(facts.promptTokens)"
            metadata["ai.tokens.completion"] = "\(facts.completionTokens)"
        }
        if let error = facts.error { metadata["ai.response.error"] = "\(error.prefix(300))" }
        logger.log(level: level, "request", metadata: metadata)
    }

    // Both run for every request: plain integer formatting, not Foundation's String(format:).

    /// Milliseconds with three decimals ("12.345").
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let microseconds = max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        let fraction = String(microseconds % 1000)
        return "\(microseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    /// At least eight lowercase hex digits.
    static func requestID(_ number: UInt64) -> String {
        let hex = String(number, radix: 16)
        return hex.count >= 8 ? hex : String(repeating: "0", count: 8 - hex.count) + hex
    }
}
