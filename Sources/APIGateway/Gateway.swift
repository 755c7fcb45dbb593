import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ModelSupervisor
import Synchronization
import UpstreamClient

/// The OpenAI-compatible gateway in front of the meta model: what Open WebUI, LibreChat, the openai SDKs and
/// curl talk to. Requests are checked here and forwarded through the project's libcurl client; streams pass
/// through event by event.
public struct Gateway: Sendable {
    public let configuration: DaemonConfiguration
    private let upstream: UpstreamTarget
    private let keys: GatewayKeys
    private let http: UpstreamHTTPClient
    private let logger: Logger
    private let limiter: ConcurrencyLimiter
    private let metrics = GatewayMetrics(routes: RequestLogMiddleware.knownRoutes.union(["other"]))
    /// The upstream's model name as a JSON string, spliced into every forwarded body.
    private let upstreamModelJSON: Data

    /// Throws a ``ConfigurationError`` when `requireAuth` is on without a readable key.
    public init(configuration: DaemonConfiguration, http: UpstreamHTTPClient = .shared, logger: Logger) throws {
        self.configuration = configuration
        self.upstream = UpstreamTarget(configuration: configuration)
        self.upstreamModelJSON = try JSONEncoder().encode(upstream.modelName)
        self.keys = try GatewayKeys(configuration: configuration.api)
        self.http = http
        self.logger = logger
        let api = configuration.api
        limiter = ConcurrencyLimiter(limit: api.maxInFlight ?? 1, maxQueue: api.maxQueue,
                                     queueTimeout: .seconds(api.queueTimeoutSeconds),
                                     limitIsProvisional: api.maxInFlight == nil)
    }

    /// The Hummingbird application; run it in a `ServiceGroup` (it is a `Service`).
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger, metrics: metrics))
        if !configuration.api.corsOrigins.isEmpty {
            router.add(middleware: CORSPolicyMiddleware(allowedOrigins: Set(configuration.api.corsOrigins)))
        }
        router.get("/health") { _, _ in Self.json(#"{"status":"ok"}"#) }
        router.get("/ready") { _, _ in try await ready() }
        let metricsGroup = router.group("/metrics")
        if configuration.api.requireAuth, configuration.api.metricsRequireAuth {
            metricsGroup.add(middleware: AuthMiddleware(keys: keys))
        }
        metricsGroup.get { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition(load: limiter.load))))
        }

        let v1 = router.group("/v1")
        if configuration.api.requireAuth { v1.add(middleware: AuthMiddleware(keys: keys)) }
        v1.get("/models") { _, _ in models() }
        v1.post("/chat/completions") { request, context in
            try await forward(request, context: context, path: "/v1/chat/completions", requiredArray: "messages")
        }
        v1.post("/completions") { request, context in
            try await forward(request, context: context, path: "/v1/completions", requiredArray: nil)
        }
        v1.post("/embeddings") { request, context in
            try await forward(request, context: context, path: "/v1/embeddings", requiredArray: nil)
        }

        return Application(
            router: router,
            server: .http1(configuration: .init(
                idleTimeout: .nanoseconds(Int64(configuration.api.clientIdleTimeoutSeconds * 1_000_000_000)))),
            configuration: .init(address: .hostname(configuration.api.host, port: configuration.api.port),
                                 serverName: "ai-sysadmin-api"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    // MARK: Routes

    private func models() -> Response {
        struct Model: Encodable {
            let id: String
            let object = "model"
            let created = 0
            let ownedBy = "ai-sysadmin"
            enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
        }
        struct List: Encodable {
            let object = "list"
            let data: [Model]
        }
        let body = (try? JSONEncoder().encode(List(data: configuration.api.advertisedModelIds.map { Model(id: $0) }))) ?? Data()
        return Self.json(body)
    }

    private func ready() async throws -> Response {
        let client = OpenAIClient(endpoint: upstream.endpoint, http: http,
                                  probeTimeouts: .init(connect: .seconds(1), total: .seconds(2), idle: .seconds(2)))
        switch await client.health() {
        case .ready: return Self.json(#"{"status":"ready"}"#)
        case .loading: throw OpenAIError.upstreamUnavailable("the model is loading")
        case .unavailable(let why): throw OpenAIError.upstreamUnavailable(why)
        }
    }

    /// Checks the request, maps `model` to the upstream's name, and forwards the body otherwise as sent:
    /// unknown fields (tools, response_format, stream_options, …) pass through.
    private func forward(_ request: Request, context: GatewayRequestContext, path: String, requiredArray: String?) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("application/json") else {
            throw OpenAIError.invalidRequest(
                "Content-Type must be application/json (got '\(contentType.prefix(64))')", code: "invalid_content_type")
        }
        let limit = configuration.api.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw Self.tooLarge(limit)
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Self.tooLarge(limit)
        }

        let received = Data(buffer.readableBytesView)
        let members: JSONObjectMembers
        do {
            members = try JSONObjectMembers(scanning: received)
        } catch {
            throw OpenAIError.invalidRequest("the request body is not a valid JSON object: \(error)", code: "invalid_json")
        }
        if let key = members.duplicateKey {
            throw OpenAIError.invalidRequest("the key '\(key.prefix(64))' occurs more than once", code: "invalid_json")
        }
        guard let modelMember = members["model"], let model = members.string("model", in: received) else {
            throw OpenAIError.invalidRequest("'model' is required and must be a string; available: \(configuration.api.advertisedModelIds.joined(separator: ", "))",
                                             code: "missing_model")
        }
        guard configuration.api.advertisedModelIds.contains(model) else {
            throw OpenAIError(.notFound, "the model '\(model.prefix(128))' does not exist; available: \(configuration.api.advertisedModelIds.joined(separator: ", "))",
                              type: "invalid_request_error", code: "model_not_found")
        }
        let toAgent = model == configuration.api.agentModelId
        if toAgent, path != "/v1/chat/completions" {
            throw OpenAIError.invalidRequest("the agent model '\(model)' answers chat completions only; use '\(configuration.api.modelId)' for \(path)",
                                             code: "unsupported_for_agent")
        }
        if let requiredArray {
            guard members[requiredArray]?.kind == .array else {
                throw OpenAIError.invalidRequest("'\(requiredArray)' is required and must be an array", code: "missing_\(requiredArray)")
            }
        }
        context.record.update { $0.model = model }
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        let body: Data, url: String, lease: SlotLease?
        if toAgent {
            // The daemon's agent takes the request as sent; it queues on the daemon's own slots of the meta model.
            // Whatever the client sent, the requester is the gateway's word: only an operator key makes one.
            let isOperator = GatewayKeys.presented(in: request.headers).map(keys.isOperator) ?? false
            headers.append((AgentRequesterHeader.name.rawName,
                            isOperator ? AgentRequesterHeader.authenticatedOperator : AgentRequesterHeader.unauthenticatedClient))
            (body, url, lease) = (received, "http://localhost" + path, nil)
        } else {
            // Everything but `model` goes as the client wrote it: spliced, not re-encoded.
            var spliced = Data(capacity: received.count + upstreamModelJSON.count)
            spliced += received[received.startIndex..<(received.startIndex + modelMember.value.lowerBound)]
            spliced += upstreamModelJSON
            spliced += received[(received.startIndex + modelMember.value.upperBound)...]
            lease = try await acquireSlot(upstream.endpoint)
            // Read after the wait: the supervisor writes a new key whenever it restarts the meta server.
            let endpoint = upstream.endpoint
            if let key = endpoint.apiKey { headers.append(("Authorization", "Bearer \(key)")) }
            (body, url) = (spliced, endpoint.url(path))
        }
        let streaming = members["stream"]?.kind == .true
        context.record.update { $0.streamed = streaming }
        let upstreamRequest = UpstreamClient.HTTPRequest(
            method: .post, url: url, headers: headers, body: body,
            timeouts: .init(connect: .seconds(2), total: streaming ? nil : .seconds(configuration.api.upstreamTimeoutSeconds),
                            idle: .seconds(configuration.api.upstreamIdleTimeoutSeconds)),
            unixSocketPath: toAgent ? configuration.agentSocketPath : nil)
        let map: @Sendable (UpstreamError) -> OpenAIError = toAgent ? Self.mapAgent : Self.map

        if streaming {
            let response: HTTPStreamingResponse
            do {
                response = try await http.stream(upstreamRequest)
            } catch let error as UpstreamError {
                lease?.release()
                metrics.upstreamError(error.code)
                return try map(error).response(from: request, context: context)
            }
            let metrics = self.metrics
            let requestBody = request.body
            let record = context.record
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", Self.accelBuffering: "no"],
                body: ResponseBody { writer in
                    defer {
                        lease?.release()
                        metrics.duration(route: path, ContinuousClock.now - started)
                        record.streamEnded()
                    }
                    var relay = StreamRelay()
                    func fail(_ message: String) async throws {
                        // The status line is long gone, so say it as an event and end.
                        let event = OpenAIError(.badGateway, message, type: "server_error", code: "upstream_stream_error")
                        try await writer.write(ByteBuffer(bytes: Data("data: ".utf8) + event.json + Data("\n\n".utf8)))
                    }
                    do {
                        // A client that goes away while the model is silent is only noticed through the
                        // connection closing; it must free the model's slot at once, not at the next token.
                        try await requestBody.consumeWithInboundCloseHandler { _ in
                            for try await chunk in response.body {
                                let output = try relay.relay(chunk)
                                if !output.bytes.isEmpty { try await writer.write(ByteBuffer(bytes: output.bytes)) }
                                record.add(metrics.count(output.usage))
                            }
                        } onInboundClosed: {
                            response.body.cancel(reason: "the client closed the connection")
                        }
                        if let fault = relay.finish() {
                            metrics.upstreamError(.malformedStream)
                            try await fail(fault.message)
                        }
                    } catch let fault as StreamRelay.Fault {
                        response.body.cancel(reason: fault.message)
                        metrics.upstreamError(.malformedStream)
                        try await fail(fault.message)
                    } catch let error as UpstreamError where error.code != .cancelled {
                        metrics.upstreamError(error.code)
                        try await fail("the meta model's stream broke off: \(error.message)")
                    }
                    try await writer.finish(nil)
                })
        }

        let response: UpstreamClient.HTTPResponse
        defer { lease?.release() }
        do {
            response = try await http.execute(upstreamRequest)
        } catch let error as UpstreamError {
            metrics.upstreamError(error.code)
            return try map(error).response(from: request, context: context)
        }
        metrics.duration(route: path, ContinuousClock.now - started)
        if response.status == 503, !toAgent {
            // llama-server's "Loading model": say it the way clients retry on, with Retry-After.
            return try OpenAIError.upstreamUnavailable("the model is loading").response(from: request, context: context)
        }
        if response.status == 200 {
            // Passed on as sent, but only if it is what an OpenAI client can parse.
            guard let document = try? UpstreamDocument(response.body) else {
                metrics.upstreamError(.invalidResponse)
                return try OpenAIError(.badGateway, "the meta model answered 200 with a body that is not a JSON object (\(response.body.count) bytes)",
                                       type: "server_error", code: "upstream_error").response(from: request, context: context)
            }
            context.record.add(metrics.count(document.usage))
        }
        return Response(
            status: .init(code: response.status),
            headers: [.contentType: response.header("Content-Type") ?? "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: response.body)))
    }

    // MARK: Concurrency

    /// Upstream requests in flight and requests waiting for a slot.
    public var load: (inFlight: Int, waiting: Int) { limiter.load }

    /// Waits for an upstream slot in the FIFO queue; 429 when the queue is full, 503 when the wait times out.
    private func acquireSlot(_ endpoint: ModelEndpoint) async throws -> SlotLease {
        if limiter.limitIsProvisional {
            // Learn the server's slot count once it answers; until then one request at a time.
            let client = OpenAIClient(endpoint: endpoint, http: http,
                                      probeTimeouts: .init(connect: .seconds(1), total: .seconds(2), idle: .seconds(2)))
            if let props = try? await client.props() { limiter.setLimit(props.totalSlots) }
        }
        do {
            try await limiter.acquire()
        } catch ConcurrencyLimiter.Refusal.queueFull(let waiting) {
            var error = OpenAIError(.tooManyRequests, "\(waiting) requests are already waiting for the meta model; retry shortly",
                                    type: "rate_limit_error", code: "queue_full")
            error.headers[.retryAfter] = "1"
            throw error
        } catch ConcurrencyLimiter.Refusal.timedOut {
            var error = OpenAIError(.serviceUnavailable, "no slot of the meta model came free within \(limiter.queueTimeout)",
                                    type: "server_error", code: "queue_timeout")
            error.headers[.retryAfter] = "5"
            throw error
        }
        return SlotLease(limiter)
    }

    // MARK: Helpers

    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!

    private static func json(_ text: String) -> Response { json(Data(text.utf8)) }

    private static func json(_ data: Data) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static func tooLarge(_ limit: Int) -> OpenAIError {
        OpenAIError(.contentTooLarge, "the request body is larger than \(limit) bytes (api.maxBodyBytes)",
                    type: "invalid_request_error", code: "request_too_large")
    }

    /// Maps a failure to reach the daemon's agent: its own errors (OpenAI-shaped) pass through as it sent them.
    static func mapAgent(_ error: UpstreamError) -> OpenAIError {
        switch error.code {
        case .connectionRefused, .connectionFailed, .connectTimeout:
            var unavailable = OpenAIError(.serviceUnavailable, "the ai-sysadmin daemon's chat agent is not reachable (\(error.code.description)); is `ai-sysadmin run` running with chat.enable?",
                                          type: "server_error", code: "agent_unavailable")
            unavailable.headers[.retryAfter] = "5"
            return unavailable
        case .httpStatus:
            let status = HTTPResponse.Status(code: error.status ?? 502)
            let message = error.serverMessage ?? "the chat agent answered \(error.status ?? 0)"
            return OpenAIError(status, message, type: status.code < 500 ? "invalid_request_error" : "server_error", code: "agent_error")
        case .idleTimeout, .totalTimeout:
            return OpenAIError(.gatewayTimeout, "the chat agent did not answer in time (\(error.code))", type: "server_error", code: "agent_timeout")
        default:
            return OpenAIError(.badGateway, "the chat agent's answer could not be relayed (\(error.code))", type: "server_error", code: "agent_error")
        }
    }

    /// Maps a failure to reach the upstream to what the client should see.
    static func map(_ error: UpstreamError) -> OpenAIError {
        switch error.code {
        case .connectionRefused, .connectionFailed, .connectTimeout:
            return .upstreamUnavailable(error.code.description)
        case .httpStatus where error.status == 503:
            return .upstreamUnavailable("the model is loading")
        case .httpStatus:
            let status = HTTPResponse.Status(code: error.status ?? 502)
            return OpenAIError(status, "the meta model answered \(error.status ?? 0): \((error.body ?? "").prefix(500))",
                               type: status.code < 500 ? "invalid_request_error" : "server_error", code: "upstream_error")
        case .idleTimeout, .totalTimeout:
            return OpenAIError(.gatewayTimeout, "the meta model did not answer in time (\(error.code))",
                               type: "server_error", code: "upstream_timeout")
        default:
            return OpenAIError(.badGateway, "the meta model's answer could not be relayed (\(error.code))",
                               type: "server_error", code: "upstream_error")
        }
    }
}

/// Rejects `/v1` requests without a valid key.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: GatewayKeys

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = GatewayKeys.presented(in: request.headers), keys.accepts(presented) else { throw OpenAIError.unauthorized() }
        return try await next(request, context)
    }
}

/// One log line per request, with a request id that is also echoed in `X-Request-Id`.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let logger: Logger
    let metrics: GatewayMetrics
    /// Metric labels come only from this list, so a client cannot create new series by inventing paths.
    static let knownRoutes: Set<String> = [
        "/health", "/ready", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
    ]
    private static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    private let counter = Counter()

    final class Counter: Sendable {
        private let value = Mutex<UInt64>(0)
        func next() -> UInt64 { value.withLock { $0 += 1; return $0 } }
    }

    init(logger: Logger, metrics: GatewayMetrics) {
        self.logger = logger
        self.metrics = metrics
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = Self.requestID(counter.next())
        let start = ContinuousClock.now
        let route = Self.knownRoutes.contains(request.uri.path) ? request.uri.path : "other"
        let base: Logger.Metadata = [
            "ai.request.id": "\(id)", "ai.request.method": "\(request.method)", "ai.request.path": "\(request.uri.path)",
        ]
        let logger = self.logger
        /// The request's one log line: status, time to the response head, and — known only at the end of a
        /// stream — duration, model and tokens.
        @Sendable func log(status: Int, head: Duration, end: Duration, _ facts: RequestRecord.Facts) {
            var metadata = base
            metadata["ai.response.status"] = "\(status)"
            metadata["ai.response.head_ms"] = "\(Self.milliseconds(head))"
            metadata["ai.response.duration_ms"] = "\(Self.milliseconds(end))"
            if let model = facts.model { metadata["ai.request.model"] = "\(model.prefix(128))" }
            if facts.promptTokens + facts.completionTokens > 0 {
                metadata["ai.tokens.prompt"] = "\(facts.promptTokens)"
                metadata["ai.tokens.completion"] = "\(facts.completionTokens)"
            }
            logger.info("request", metadata: metadata)
        }

        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        let head = ContinuousClock.now - start
        metrics.timeToFirstByte(route: route, head)
        metrics.requestFinished(route: route, status: Int(response.status.code))
        response.headers[Self.requestIDHeader] = id
        let status = Int(response.status.code)
        if context.record.current.streamed, status == 200 {
            context.record.whenStreamEnds { facts in log(status: status, head: head, end: ContinuousClock.now - start, facts) }
        } else {
            log(status: status, head: head, end: head, context.record.current)
        }
        return response
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

/// One held upstream slot, released exactly once: explicitly, or when the last reference goes (a response
/// body that Hummingbird never ran must not keep its slot).
final class SlotLease: Sendable {
    private let limiter: ConcurrencyLimiter
    private let released = Mutex(false)

    init(_ limiter: ConcurrencyLimiter) {
        self.limiter = limiter
    }

    func release() {
        let first = released.withLock { released -> Bool in
            defer { released = true }
            return !released
        }
        if first { limiter.release() }
    }

    deinit {
        release()
    }
}
