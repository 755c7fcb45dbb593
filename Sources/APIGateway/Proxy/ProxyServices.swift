import FoundationEssentials
import HTTPTypes
import Logging
import NIOCore
import NIOPosix
import OpenAIServer
import SysadminConfiguration
import UpstreamClient

/// What the proxy path shares with the rest of the gateway: the same keys, checks, limits, slots, metrics and log
/// line as the Hummingbird routes, so a request gets the same answer whichever path serves it.
final class ProxyServices: Sendable {
    let gateway: Gateway
    let pools: UpstreamConnectionPools
    private let api: GatewayConfiguration
    let upstreamTotalTimeout: TimeAmount
    let upstreamIdleTimeout: TimeAmount
    private let advertisedModelJSON: [String: Data]
    private let daemonSocket: DaemonSocketWatch

    /// `nil` when the meta model is not a plain-HTTP server (the libcurl path serves it then).
    init?(gateway: Gateway) {
        guard let pools = gateway.pools else { return nil }
        self.gateway = gateway
        self.pools = pools
        api = gateway.configuration.api
        upstreamTotalTimeout = .nanoseconds(Int64(api.upstreamTimeoutSeconds * 1_000_000_000))
        upstreamIdleTimeout = .nanoseconds(Int64(api.upstreamIdleTimeoutSeconds * 1_000_000_000))
        advertisedModelJSON = Dictionary(api.advertisedModelIds.compactMap { id in (try? JSONEncoder().encode(id)).map { (id, $0) } },
                                         uniquingKeysWith: { first, _ in first })
        daemonSocket = DaemonSocketWatch(path: gateway.configuration.agentSocketPath)
    }

    var metrics: GatewayMetrics { gateway.metrics }
    var maxBodyBytes: Int { api.maxBodyBytes }
    var endpoint: ModelEndpoint { gateway.upstream }

    /// The route of a request this path answers, or `nil` for one Hummingbird answers.
    func intercepted(_ head: HTTPTypes.HTTPRequest) -> RequestCheck.Route? {
        guard head.method == .post, let path = head.path else { return nil }
        let route = path.firstIndex(of: "?").map { path[..<$0] } ?? path[...]
        return RequestCheck.Route(rawValue: String(route))
    }

    /// What is refused before the body is read (and answered once it has been): a missing key, a wrong content type.
    func refusalAtHead(_ head: HTTPTypes.HTTPRequest) -> OpenAIError? {
        if api.requireAuth {
            guard let presented = GatewayKeys.presented(in: head.headerFields), gateway.keys.accepts(presented) else { return .unauthorized() }
        }
        return Gateway.contentTypeRefusal(head.headerFields[.contentType])
    }

    func tooLarge() -> OpenAIError {
        var error = Gateway.tooLarge(api.maxBodyBytes)
        error.headers[.connection] = "close"
        return error
    }

    /// Whether enough of a refused body was read and dropped (nginx's bounded drain before its 413).
    func stopsDraining(_ received: Int, since started: ContinuousClock.Instant) -> Bool {
        received > max(api.maxBodyBytes, Gateway.drainLimit) || ContinuousClock.now - started > Gateway.drainTime
    }

    func check(_ body: ByteBuffer, route: RequestCheck.Route) throws(OpenAIError) -> RequestCheck {
        try RequestCheck(Data(body.readableBytesView), route: route, api: api, upstreamModelJSON: gateway.upstreamModelJSON)
    }

    /// The model id the client asked for, as the JSON string its answer carries (the ids are the advertised
    /// ones, encoded once).
    func modelJSON(for model: String) -> Data {
        advertisedModelJSON[model] ?? (try? JSONEncoder().encode(model)) ?? gateway.upstreamModelJSON
    }

    func nextRequestID() -> String {
        RequestLogMiddleware.requestID(gateway.received.next())
    }

    func corsHeaders(_ origin: String) -> HTTPFields? {
        CORSPolicyMiddleware<GatewayRequestContext>.headers(for: origin, allowed: api.corsOrigins)
    }

    func logRequest(id: String, method: String, path: String, route: String, status: Int, head: Duration, end: Duration,
                    facts: RequestRecord.Facts) {
        RequestLogMiddleware.logLine(gateway.logger, id: id, method: method, path: path, route: route, status: status,
                                     head: head, end: end, facts: facts)
    }

    /// A slot taken without waiting: a free one, the slot count known, and no daemon whose turn must be asked for.
    func immediateSlot() -> SlotLease? {
        let limiter = gateway.limiter
        guard !limiter.limitIsProvisional, !daemonSocket.exists, limiter.tryAcquire() else { return nil }
        return SlotLease(limiter)
    }

    static let connectTimeout = TimeAmount.seconds(2)

    /// What a failed connect to the upstream is, in the codes the libcurl path reports.
    static func connectFailure(_ error: any Error) -> UpstreamError {
        let failures = (error as? NIOConnectionError)?.connectionErrors.map(\.error) ?? [error]
        if failures.contains(where: { ($0 as? IOError)?.errnoCode == ECONNREFUSED }) {
            return UpstreamError(.connectionRefused, "connection refused")
        }
        if failures.contains(where: { if case ChannelError.connectTimeout = $0 { true } else { false } }) {
            return UpstreamError(.connectTimeout, "no connection within \(connectTimeout.nanoseconds / 1_000_000_000) s")
        }
        return UpstreamError(.connectionFailed, "\(error)")
    }

    func waitForSlot(background: Bool, requestID: String) async throws -> SlotLease {
        try await gateway.acquireSlot(gateway.upstream, background: background, requestID: requestID)
    }
}
