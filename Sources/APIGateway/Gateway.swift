import FoundationEssentials
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import OpenAIServer
import Synchronization
import SysadminConfiguration
import UpstreamClient

/// The OpenAI-compatible gateway in front of the meta model: what Open WebUI, LibreChat, the openai SDKs and
/// curl talk to. Requests are checked here and forwarded through the project's libcurl client; streams pass
/// through event by event.
public struct Gateway: Sendable {
    public let configuration: DaemonConfiguration
    /// The meta model's server; its key is read at each request (the supervisor writes a new one whenever it starts
    /// a managed server).
    let upstream: ModelEndpoint
    let keys: GatewayKeys
    private let http: UpstreamHTTPClient
    let logger: Logger
    let limiter: ConcurrencyLimiter
    let metrics = GatewayMetrics(routes: RequestLogMiddleware.knownRoutes.union(["other"]))
    /// Requests received so far (the request ids' counter).
    let received = RequestLogMiddleware.Counter()
    /// The upstream's model name as a JSON string, spliced into every forwarded body.
    let upstreamModelJSON: Data
    /// The upstream connections of the event-loop path for the meta model's `/v1` requests; `nil` for an `https`
    /// upstream, which libcurl serves.
    let pools: UpstreamConnectionPools?

    /// Throws a ``ConfigurationError`` when `requireAuth` is on without a readable key.
    public init(configuration: DaemonConfiguration, http: UpstreamHTTPClient = .shared, logger: Logger) throws {
        self.configuration = configuration
        self.upstream = configuration.endpoint(for: .meta)
        self.upstreamModelJSON = try JSONEncoder().encode(configuration.models.meta.servedModelName(as: .meta))
        self.keys = try GatewayKeys(configuration: configuration.api)
        self.http = http
        self.logger = logger
        let api = configuration.api
        limiter = ConcurrencyLimiter(limit: api.maxInFlight ?? 1, maxQueue: api.maxQueue,
                                     queueTimeout: .seconds(api.queueTimeoutSeconds),
                                     limitIsProvisional: api.maxInFlight == nil)
        let limiter = limiter
        pools = ProxyUpstreamAddress(baseURL: upstream.baseURL).map { [metrics] in
            UpstreamConnectionPools(address: $0, metrics: metrics, maximumIdle: { limiter.limit })
        }
    }

    /// The Hummingbird application; run it in a `ServiceGroup` (it is a `Service`).
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger, metrics: metrics, counter: received))
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
        v1.post("/chat/completions") { request, context in try await forward(request, context: context, route: .chat) }
        v1.post("/completions") { request, context in try await forward(request, context: context, route: .completions) }
        v1.post("/embeddings") { request, context in try await forward(request, context: context, route: .embeddings) }
        // A fleet's client hosts think with this meta model: their daemons ask its context size, slots and tool-call
        // support first, as they ask a llama-server of their own. Behind the same keys as /v1.
        let props = router.group("/props")
        if configuration.api.requireAuth { props.add(middleware: AuthMiddleware(keys: keys)) }
        props.get { _, _ in try await upstreamProps() }
        OperatorDoors(configuration: configuration, keys: keys, http: http).add(to: router)

        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [HTTP10CloseInstaller()],
            idleTimeout: .nanoseconds(Int64(configuration.api.clientIdleTimeoutSeconds * 1_000_000_000)))
        let proxy = ProxyServices(gateway: self)
        return Application(
            router: router,
            server: HTTPServerBuilder { responder in
                GatewayHTTP1Channel(http1: HTTP1Channel(responder: responder, configuration: http1), proxy: proxy)
            },
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

    /// The upstream's `/props`, cut to what a client host's daemon reads: the model's file path and its chat template
    /// stay on this host.
    private func upstreamProps() async throws -> Response {
        let client = OpenAIClient(endpoint: upstream, http: http,
                                  probeTimeouts: .init(connect: .seconds(1), total: .seconds(5), idle: .seconds(5)))
        let props: ServerProps
        do {
            props = try await client.props()
        } catch {
            throw OpenAIError.upstreamUnavailable("the meta model's /props: \(error)")
        }
        // llama-server's shape, so a client reads it as it reads its own server's.
        struct Props: Encodable {
            struct Settings: Encodable { let nCtx: Int; enum CodingKeys: String, CodingKey { case nCtx = "n_ctx" } }
            struct Caps: Encodable { let supportsToolCalls: Bool; enum CodingKeys: String, CodingKey { case supportsToolCalls = "supports_tool_calls" } }
            let settings: Settings, totalSlots: Int, caps: Caps
            enum CodingKeys: String, CodingKey {
                case settings = "default_generation_settings", totalSlots = "total_slots", caps = "chat_template_caps"
            }
        }
        let trimmed = Props(settings: .init(nCtx: props.contextSize), totalSlots: props.totalSlots,
                            caps: .init(supportsToolCalls: props.supportsToolCalls))
        return Self.json((try? JSONEncoder().encode(trimmed)) ?? Data())
    }

    private func ready() async throws -> Response {
        let client = OpenAIClient(endpoint: upstream, http: http,
                                  probeTimeouts: .init(connect: .seconds(1), total: .seconds(2), idle: .seconds(2)))
        switch await client.health() {
        case .ready: return Self.json(#"{"status":"ready"}"#)
        case .loading: throw OpenAIError.upstreamUnavailable("the model is loading")
        case .unavailable(let why): throw OpenAIError.upstreamUnavailable(why)
        }
    }

    /// Checks the request, maps `model` to the upstream's name, and forwards the body otherwise as sent:
    /// unknown fields (tools, response_format, stream_options, …) pass through.
    private func forward(_ request: Request, context: GatewayRequestContext, route: RequestCheck.Route) async throws -> Response {
        let started = ContinuousClock.now
        if let refusal = Self.contentTypeRefusal(request.headers[.contentType]) { throw refusal }
        var request = request
        let received = Data(try await Self.collectBody(&request, limit: configuration.api.maxBodyBytes).readableBytesView)
        let check = try RequestCheck(received, route: route, api: configuration.api, upstreamModelJSON: upstreamModelJSON)
        context.record.update {
            $0.model = check.model
            $0.streamed = check.streaming
        }
        let destination: Destination, lease: SlotLease?
        if check.toAgent {
            // The daemon's agent takes the request as sent; it queues on the daemon's own slots of the meta model.
            let isOperator = GatewayKeys.presented(in: request.headers).map(keys.isOperator) ?? false
            (destination, lease) = (.agent(socketPath: configuration.agentSocketPath, isOperator: isOperator), nil)
        } else {
            lease = try await acquireSlot(upstream, background: Self.isBackgroundTask(received), requestID: context.requestID)
            // Read after the wait: the supervisor writes a new key whenever it restarts the meta server.
            destination = .model(upstream, key: upstream.currentKey)
        }
        let upstreamRequest = Self.upstreamRequest(check, route: route, to: destination, requestID: context.requestID, api: configuration.api)
        let reply = Reply(route: route, toAgent: check.toAgent, lease: lease, started: started,
                          modelJSON: (try? JSONEncoder().encode(check.model)) ?? upstreamModelJSON)
        if check.streaming {
            return try await stream(upstreamRequest, request: request, context: context, reply)
        }
        return try await respond(upstreamRequest, request: request, context: context, reply)
    }

    /// Where a checked request goes.
    enum Destination {
        /// The daemon's agent, told who the client is.
        case agent(socketPath: String, isOperator: Bool)
        /// The meta model's server, with the key it requires now.
        case model(ModelEndpoint, key: String?)
    }

    /// The upstream request for a checked one: the pure half of forwarding — the spliced body, and only the headers
    /// the gateway itself vouches for (what the client sent as requester or key never passes).
    static func upstreamRequest(_ check: RequestCheck, route: RequestCheck.Route, to destination: Destination, requestID: String,
                                api: GatewayConfiguration) -> UpstreamClient.HTTPRequest {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        let url: String, socket: String?
        switch destination {
        case .agent(let socketPath, let isOperator):
            headers += agentHeaders(isOperator: isOperator, requestID: requestID)
            (url, socket) = ("http://localhost" + route.rawValue, socketPath)
        case .model(let endpoint, let key):
            if let key { headers.append(("Authorization", "Bearer \(key)")) }
            (url, socket) = (endpoint.url(route.rawValue), nil)
        }
        return UpstreamClient.HTTPRequest(
            method: .post, url: url, headers: headers, body: check.body,
            timeouts: .init(connect: .seconds(2), total: check.streaming ? nil : .seconds(api.upstreamTimeoutSeconds),
                            idle: .seconds(api.upstreamIdleTimeoutSeconds)),
            unixSocketPath: socket)
    }

    /// What the daemon's socket is told about a request the gateway forwards there: whatever the client sent, the
    /// requester is the gateway's word (only an operator key makes one), and the request keeps its id.
    static func agentHeaders(isOperator: Bool, requestID: String) -> [(name: String, value: String)] {
        [(AgentRequesterHeader.name.rawName, isOperator ? AgentRequesterHeader.authenticatedOperator : AgentRequesterHeader.unauthenticatedClient),
         (RequestIDHeader.name.rawName, requestID)]
    }

    /// What the responders need to know about a forwarded request.
    struct Reply: Sendable {
        var route: RequestCheck.Route
        var toAgent: Bool
        var lease: SlotLease?
        var started: ContinuousClock.Instant
        /// The model id the client asked for, as the JSON string its answer carries.
        var modelJSON: Data

        var map: @Sendable (UpstreamError) -> OpenAIError { toAgent ? Gateway.mapAgent : Gateway.map }
    }

    /// Answers a request that is not streamed: the upstream's whole answer, checked and renamed to the client's model.
    private func respond(_ upstreamRequest: UpstreamClient.HTTPRequest, request: Request, context: GatewayRequestContext,
                         _ reply: Reply) async throws -> Response {
        defer { reply.lease?.release() }
        // A client that leaves (a chat frontend's Stop) cancels the upstream request at once, so the model's slot
        // comes free instead of generating for nobody until the timeout.
        let response: UpstreamClient.HTTPResponse
        do {
            response = try await Self.execute(upstreamRequest, http: http, until: request)
        } catch let error as UpstreamError {
            metrics.upstreamError(error.code)
            return try Self.closing(Self.failed(reply.map(error), context).response(from: request, context: context))
        }
        metrics.duration(route: reply.route.rawValue, ContinuousClock.now - reply.started)
        if response.status == 503, !reply.toAgent {
            // llama-server's "Loading model": say it the way clients retry on, with Retry-After.
            return try Self.closing(Self.failed(.upstreamUnavailable("the model is loading"), context).response(from: request, context: context))
        }
        guard response.status == 200 else {
            let error = reply.toAgent ? Self.agentRefusal(status: response.status, body: response.body)
                                      : Self.upstreamRefusal(status: response.status, body: response.body)
            return try Self.closing(Self.failed(error, context).response(from: request, context: context))
        }
        // Passed on as sent, but only if it is what an OpenAI client can parse, and naming the model it asked for.
        guard let document = try? UpstreamDocument(response.body) else {
            metrics.upstreamError(.invalidResponse)
            let error = OpenAIError(.badGateway, "the meta model answered 200 with a body that is not a JSON object (\(response.body.count) bytes)",
                                    type: "server_error", code: "upstream_error")
            return try Self.closing(Self.failed(error, context).response(from: request, context: context))
        }
        context.record.add(metrics.count(document.usage))
        return Self.closing(Response(
            status: .ok,
            headers: [.contentType: response.header("Content-Type") ?? "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: document.renamingModel(in: response.body, to: reply.modelJSON)))))
    }

    /// `upstreamRequest`'s whole answer, cancelled as soon as the client of `request` closes its connection (which then
    /// ends with the answer: announce it with `Connection: close`).
    static func execute(_ upstreamRequest: UpstreamClient.HTTPRequest, http: UpstreamHTTPClient, until request: Request) async throws
        -> UpstreamClient.HTTPResponse
    {
        let exchange = Task { try await http.execute(upstreamRequest) }
        return try await request.body.consumeWithInboundCloseHandler { _ in
            try await exchange.value
        } onInboundClosed: {
            exchange.cancel()
        }
    }

    /// Relays an upstream event stream event by event; a client that leaves cancels it.
    private func stream(_ upstreamRequest: UpstreamClient.HTTPRequest, request: Request, context: GatewayRequestContext,
                        _ reply: Reply) async throws -> Response {
        let response: HTTPStreamingResponse
        do {
            response = try await http.stream(upstreamRequest)
        } catch let error as UpstreamError {
            reply.lease?.release()
            metrics.upstreamError(error.code)
            return try Self.failed(reply.map(error), context).response(from: request, context: context)
        }
        let (lease, route, started, modelJSON) = (reply.lease, reply.route, reply.started, reply.modelJSON)
        let metrics = self.metrics
        let requestBody = request.body
        let record = context.record
        return Response(
            status: .ok,
            // Watching for the client leaving ends the connection with the stream (Hummingbird's inbound-close
            // handler); it is announced, so a pooling client does not send its next request on it.
            headers: Self.streamHeaders + [HTTPField(name: .connection, value: "close")],
            body: ResponseBody { writer in
                defer {
                    lease?.release()
                    metrics.duration(route: route.rawValue, ContinuousClock.now - started)
                    record.streamEnded()
                }
                var relay = StreamRelay(modelJSON: modelJSON)
                func fail(_ message: String) async throws {
                    // The status line is long gone, so say it as an event and end.
                    record.update { $0.error = message }
                    try await writer.write(ByteBuffer(bytes: Self.streamErrorEvent(message)))
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

    /// Keeps a refusal's reason for the request's log line.
    private static func failed(_ error: OpenAIError, _ context: GatewayRequestContext) -> OpenAIError {
        context.record.update { $0.error = error.message }
        return error
    }

    /// A response after which Hummingbird closes the connection (the inbound-close watch consumed it), saying so.
    private static func closing(_ response: Response) -> Response {
        var response = response
        response.headers[.connection] = "close"
        return response
    }

    /// The body, at most `limit` bytes. A larger one is still read to its end and thrown away — within
    /// `drainLimit` bytes and `drainTime` — before the 413, as nginx does: a client that writes its whole body
    /// before it reads (Python's urllib, with `Connection: close`) would otherwise block and never see the answer.
    static func collectBody(_ request: inout Request, limit: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        var total = 0
        let started = ContinuousClock.now
        for try await chunk in request.body {
            total += chunk.readableBytes
            if total <= limit {
                var chunk = chunk
                collected.writeBuffer(&chunk)
            } else {
                collected.clear()
                if total > max(limit, drainLimit) || ContinuousClock.now - started > drainTime { break }
            }
        }
        guard total <= limit else {
            var error = tooLarge(limit)
            error.headers[.connection] = "close"
            throw error
        }
        request.body = RequestBody(buffer: collected)
        return collected
    }

    static let drainLimit = 64 * 1024 * 1024
    static let drainTime = Duration.seconds(30)

    // MARK: Concurrency

    /// Upstream requests in flight and requests waiting for a slot.
    public var load: (inFlight: Int, waiting: Int) { limiter.load }

    /// Upstream connections the event-loop path keeps open between requests, over all its loops.
    public var upstreamConnectionsIdle: Int { pools?.idleConnections ?? 0 }

    /// How many connections the event-loop path has opened to the meta model since the gateway started.
    public var upstreamConnectionsOpened: Int { pools?.counter.total ?? 0 }

    /// How many requests the gateway has received since it started.
    public var requestsReceived: UInt64 { received.current }

    /// Waits for an upstream slot in the FIFO queue, then for the request's turn on the daemon's slots of the meta
    /// model; 429 when the queue is full, 503 when the wait times out.
    func acquireSlot(_ endpoint: ModelEndpoint, background: Bool, requestID: String) async throws -> SlotLease {
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
            throw Self.queueTimeout(limiter.queueTimeout)
        }
        let lease = SlotLease(limiter)
        lease.hold(try await daemonTurn(background: background, requestID: requestID))
        return lease
    }

    private struct TurnTimedOut: Error {}

    /// The request's turn on the daemon's own slots of the meta model (its chat and analyses ask through them), so
    /// everything that asks the meta model follows one priority order: interactive requests first, background
    /// tasks after. The turn is a connection to the daemon's agent socket held open for the request's length. No
    /// daemon there (the gateway alone, or chat off): no turn to take, and the model server's own queue decides.
    private func daemonTurn(background: Bool, requestID: String) async throws -> HTTPStreamingResponse? {
        let path = configuration.agentSocketPath
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        // Open WebUI sends its tasks together with the question they belong to: the question takes the turn first.
        if background { try await Task.sleep(for: .seconds(1)) }
        let request = UpstreamClient.HTTPRequest(
            method: .post, url: "http://localhost/slots/meta?priority=\(background ? "background" : "interactive")",
            headers: [(RequestIDHeader.name.rawName, requestID)],
            timeouts: .init(connect: .seconds(1), total: nil, idle: nil), unixSocketPath: path)
        let http = self.http, waited = limiter.queueTimeout
        do {
            let turn = try await withThrowingTaskGroup(of: HTTPStreamingResponse?.self) { group in
                group.addTask { try await http.stream(request) }
                group.addTask {
                    try await Task.sleep(for: waited)
                    throw TurnTimedOut()
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            guard let turn, turn.status == 200 else {
                turn?.body.cancel(reason: "no turn needed")
                return nil
            }
            return turn
        } catch is TurnTimedOut {
            throw Self.queueTimeout(waited)
        } catch {
            logger.debug("no turn from the daemon's slots: \(error)", metadata: ["ai.request.id": "\(requestID)"])
            return nil
        }
    }

    // MARK: Helpers

    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!

    /// A relayed stream's response headers (both paths).
    static let streamHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", accelBuffering: "no"]

    /// A stream's last event when it fails after its head was sent: the error in OpenAI's shape.
    static func streamErrorEvent(_ message: String) -> Data {
        Data("data: ".utf8) + OpenAIError(.badGateway, message, type: "server_error", code: "upstream_stream_error").json + Data("\n\n".utf8)
    }

    /// Open WebUI's background tasks (titles, tags, follow-ups) wait behind interactive requests.
    static func isBackgroundTask(_ body: Data) -> Bool {
        let marker = Array("### Task:".utf8)
        return body.withUnsafeBytes { bytes in
            var from = 0
            while bytes.count - from >= marker.count, let start = bytes[from...].firstIndex(of: marker[0]) {
                if bytes.count - start >= marker.count, memcmp(bytes.baseAddress! + start, marker, marker.count) == 0 { return true }
                from = start + 1
            }
            return false
        }
    }

    private static func json(_ text: String) -> Response { json(Data(text.utf8)) }

    private static func json(_ data: Data) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// One held upstream slot (and the request's turn on the daemon's slots, when it took one), released exactly
/// once: explicitly, or when the last reference goes (a response body that Hummingbird never ran must not keep
/// its slot).
final class SlotLease: Sendable {
    private let limiter: ConcurrencyLimiter
    private let released = Mutex(false)
    private let turn = Mutex<HTTPStreamingResponse?>(nil)

    init(_ limiter: ConcurrencyLimiter) {
        self.limiter = limiter
    }

    func hold(_ turn: HTTPStreamingResponse?) {
        self.turn.withLock { $0 = turn }
    }

    func release() {
        let first = released.withLock { released -> Bool in
            defer { released = true }
            return !released
        }
        guard first else { return }
        turn.withLock { $0 }?.body.cancel(reason: "the request is done")
        limiter.release()
    }

    deinit {
        release()
    }
}
