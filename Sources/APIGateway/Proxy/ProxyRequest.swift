import FoundationEssentials
import HTTPTypes
import OpenAIServer

/// One `/v1` request answered by the proxy path: what its response head carries and its log line says.
final class ProxyRequest {
    let head: HTTPRequest
    let route: RequestCheck.Route
    let started = ContinuousClock.now
    var facts = RequestRecord.Facts()
    /// Close the connection after the answer (the client asked, or the request could not be read to its end).
    var closeAfter: Bool
    private let services: ProxyServices
    private let origin: String?
    private var id: String?
    private var status: Int?
    private var headDuration: Duration?
    private var logged = false

    init(head: HTTPRequest, route: RequestCheck.Route, closeAfter: Bool, services: ProxyServices) {
        self.head = head
        self.route = route
        self.closeAfter = closeAfter
        self.services = services
        origin = head.headerFields[.origin]
    }

    /// The request id (`X-Request-Id`, the log line), taken from the same counter as Hummingbird's requests once
    /// this path answers the request itself.
    @discardableResult
    func assignID() -> String {
        if let id { return id }
        let id = services.nextRequestID()
        self.id = id
        return id
    }

    /// The headers every answer gets: request id, `Date`, `Server`, CORS for an allowed origin, and
    /// `Connection: close` when the connection closes after it.
    func addResponseHeaders(to headers: inout HTTPFields) {
        headers[RequestIDHeader.name] = assignID()
        headers[.date] = HTTPDate.now
        headers[.server] = "ai-sysadmin-api"
        if let origin, let cors = services.corsHeaders(origin) { headers.append(contentsOf: cors) }
        if closeAfter { headers[.connection] = "close" }
    }

    func headWritten(status: Int) {
        let elapsed = ContinuousClock.now - started
        self.status = status
        headDuration = elapsed
        services.metrics.timeToFirstByte(route: route.rawValue, elapsed)
        services.metrics.requestFinished(route: route.rawValue, status: status)
    }

    /// The request's one log line; `status` for a request that ended without a response (499, as nginx says it).
    func log(status fallback: Int? = nil, error: String? = nil) {
        guard !logged else { return }
        logged = true
        if let error, facts.error == nil { facts.error = error }
        let end = ContinuousClock.now - started
        // Without the query: keys and other secrets travel there.
        let target = head.path ?? ""
        let path = target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
        services.logRequest(id: assignID(), method: head.method.rawValue, path: path, route: route.rawValue,
                            status: status ?? fallback ?? 499, head: headDuration ?? end, end: end, facts: facts)
    }
}
