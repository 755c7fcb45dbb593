import FoundationEssentials
import HTTPTypes
import Hummingbird
import OpenAIServer
import SysadminConfiguration
import UpstreamClient

/// The console (`/`, its files and `/console/api/…`) and MCP (`/mcp`) on the gateway's port, behind its keys. The
/// gateway serves the page's files itself and forwards the data to the daemon's socket, which has the store, the
/// supervisor and the executor; the daemon is told who asks exactly as for chat (``Gateway/agentHeaders(isOperator:requestID:)``),
/// so only an operator key decides.
///
/// The defences, in depth: a key is kept in an HttpOnly, SameSite=Strict cookie scoped to `/console` (scripts cannot
/// read it, other sites cannot send it, the API never sees it); every state-changing request must carry
/// ``csrfHeader`` (a cross-site form cannot set it, and a cross-origin script would need a preflight nothing grants)
/// and a same-origin `Origin` when the browser sends one; without `requireAuth` (loopback only) a request must name
/// a loopback host, so a site that rebinds its DNS name to 127.0.0.1 reads nothing; no CORS headers; the page's
/// Content-Security-Policy allows no inline script and no other origin, and the page renders every string as text.
struct OperatorDoors: Sendable {
    let configuration: DaemonConfiguration
    let keys: GatewayKeys
    let http: UpstreamHTTPClient

    static let cookieName = "ai_sysadmin_key"
    static let cookiePath = "/console"
    static let csrfHeader = HTTPField.Name("X-AI-Sysadmin-Console")!
    /// How long a console login lasts.
    static let sessionSeconds = 12 * 3600

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-store",
    ]

    /// The paths of the console and MCP, which get no CORS headers.
    static func isDoorPath(_ path: String) -> Bool {
        path == "/" || path == "/favicon.ico" || path == "/console" || path.hasPrefix("/console/") || path == "/mcp"
    }

    func add(to router: Router<GatewayRequestContext>) {
        if configuration.console.enable { addConsole(to: router) }
        if configuration.mcp.enable { addMCP(to: router) }
    }

    // MARK: Who asks

    enum Standing: Equatable {
        case none
        case client
        /// The operator key's place in `api.operatorKeyFile`, for the audit log.
        case `operator`(number: Int)
    }

    /// What the request's key — `Authorization`/`x-api-key`, or with `acceptCookie` the console's cookie — makes its
    /// sender. Without `requireAuth` anyone who reaches the gateway (on loopback: the configuration refuses the doors
    /// on a wider address without keys) is a client.
    func standing(_ request: Request, acceptCookie: Bool) -> Standing {
        let key = GatewayKeys.presented(in: request.headers) ?? (acceptCookie ? Self.cookieKey(request.headers) : nil)
        if let key, let number = keys.operatorNumber(key) { return .operator(number: number) }
        if let key, keys.accepts(key) { return .client }
        return configuration.api.requireAuth ? .none : .client
    }

    static func cookieKey(_ headers: HTTPFields) -> String? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingBlanks() }
                if parts.count == 2, parts[0] == cookieName, let key = CookieValue.decode(parts[1]), !key.isEmpty { return key }
            }
        }
        return nil
    }

    /// Why a request for a door is refused before anything else, or nil. Without keys the doors answer only
    /// requests addressed to a loopback name: a web page whose own name an attacker rebinds to 127.0.0.1 sends its own
    /// name as the host.
    func hostRefusal(_ request: Request) -> String? {
        guard !configuration.api.requireAuth else { return nil }
        guard let authority = request.head.authority, Self.isLoopback(authority: authority) else {
            return "without api.requireAuth the console and MCP answer only requests for localhost, 127.0.0.1 or [::1]"
        }
        return nil
    }

    /// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
    static func isLoopback(authority: String) -> Bool {
        let host: Substring
        if authority.hasPrefix("[") {
            host = authority.dropFirst().prefix { $0 != "]" }
        } else {
            host = authority.prefix { $0 != ":" }
        }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return host.lowercased() == "localhost" || host == "::1"
            || (parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil })
    }

    /// Why a state-changing request from a browser is refused, or nil: it must carry ``csrfHeader``, and its `Origin`,
    /// when sent, must be this gateway.
    static func crossSiteRefusal(_ request: Request) -> String? {
        guard request.headers[csrfHeader] == "1" else { return "a console request must carry the \(csrfHeader.rawName) header" }
        if let origin = request.headers[.origin], let host = request.head.authority,
           origin != "http://\(host)", origin != "https://\(host)" {
            return "the request comes from another origin (\(origin.prefix(100)))"
        }
        return nil
    }

    // MARK: Console

    private func addConsole(to router: Router<GatewayRequestContext>) {
        func page(_ bytes: [UInt8], _ type: String) -> @Sendable (Request, GatewayRequestContext) async throws -> Response {
            { request, _ in
                if let refusal = hostRefusal(request) { return Self.refusal(.misdirectedRequest, refusal) }
                var headers = Self.securityHeaders
                headers[.contentType] = type
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        router.get("/", use: page(ConsoleFiles.page, "text/html; charset=utf-8"))
        router.get("/console/console.js", use: page(ConsoleFiles.script, "text/javascript; charset=utf-8"))
        router.get("/console/console.css", use: page(ConsoleFiles.style, "text/css; charset=utf-8"))
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        router.post("/console/login") { request, _ in try await login(request) }
        router.post("/console/logout") { request, _ in
            if let refusal = hostRefusal(request) ?? Self.crossSiteRefusal(request) { return Self.refusal(.forbidden, refusal) }
            var headers = Self.securityHeaders
            headers[.setCookie] = "\(Self.cookieName)=; HttpOnly; SameSite=Strict; Path=\(Self.cookiePath); Max-Age=0"
            return JSONResponse.make(Data(#"{"status":"logged out"}"#.utf8), headers: headers)
        }
        router.get("/console/api/state") { request, context in
            let standing = standing(request, acceptCookie: true)
            if let refusal = doorRefusal(request, standing) { return refusal }
            return try await forward(.get, "/console/state", standing: standing, request: request, context: context)
        }
        router.get("/console/api/stream") { request, context in
            let standing = standing(request, acceptCookie: true)
            if let refusal = doorRefusal(request, standing) { return refusal }
            return try await stream("/console/stream", standing: standing, request: request, context: context)
        }
        router.post("/console/api/proposals/{id}/{decision}") { request, context in
            let standing = standing(request, acceptCookie: true)
            if let refusal = doorRefusal(request, standing) { return refusal }
            if let refusal = Self.crossSiteRefusal(request) { return Self.refusal(.forbidden, refusal) }
            let id = context.parameters.get("id") ?? "", decision = context.parameters.get("decision") ?? ""
            guard !id.isEmpty, id.count <= 18, id.allSatisfy(\.isASCII), id.allSatisfy(\.isNumber), ["approve", "reject"].contains(decision) else {
                return Self.refusal(.notFound, "POST /console/api/proposals/ID/approve or …/reject")
            }
            var request = request
            let body = try await request.collectBody(upTo: 16 * 1024)
            return try await forward(.post, "/console/proposals/\(id)/\(decision)", standing: standing, request: request, context: context,
                                     body: Data(body.readableBytesView))
        }
    }

    /// The refusal of a request for the console's data, or nil: a foreign host name without keys, or no login.
    private func doorRefusal(_ request: Request, _ standing: Standing) -> Response? {
        if let refusal = hostRefusal(request) { return Self.refusal(.misdirectedRequest, refusal) }
        return standing == .none ? Self.refusal(.unauthorized, "log in with an API key") : nil
    }

    /// `POST /console/login` with `{"key": "…"}`: a valid key is kept in the session cookie.
    private func login(_ request: Request) async throws -> Response {
        if let refusal = hostRefusal(request) ?? Self.crossSiteRefusal(request) { return Self.refusal(.forbidden, refusal) }
        var request = request
        let body = try await request.collectBody(upTo: 4096)
        struct Login: Decodable { var key: String }
        guard let key = (try? JSONDecoder().decode(Login.self, from: Data(body.readableBytesView)))?.key
                .trimmingBlanks(), !key.isEmpty else {
            return Self.refusal(.badRequest, #"send {"key": "…"}: a key from api.apiKeyFile or api.operatorKeyFile"#)
        }
        guard keys.accepts(key) else { return Self.refusal(.unauthorized, "that key is not one of the gateway's keys") }
        let secure = request.headers[HTTPField.Name("X-Forwarded-Proto")!] == "https" ? "; Secure" : ""
        let encoded = CookieValue.encode(key)
        var headers = Self.securityHeaders
        headers[.setCookie] = "\(Self.cookieName)=\(encoded); HttpOnly; SameSite=Strict; Path=\(Self.cookiePath); Max-Age=\(Self.sessionSeconds)\(secure)"
        let standing = keys.operatorNumber(key) == nil ? "client" : "operator"
        return JSONResponse.make(Data(#"{"standing":"\#(standing)"}"#.utf8), headers: headers)
    }

    // MARK: MCP

    private func addMCP(to router: Router<GatewayRequestContext>) {
        router.post("/mcp") { request, context in
            if let refusal = hostRefusal(request) { return Self.refusal(.misdirectedRequest, refusal) }
            // No cookie here: MCP clients present a key, and a browser's cookie must not reach the tools.
            let standing = standing(request, acceptCookie: false)
            guard standing != .none else { throw OpenAIError.unauthorized() }
            var request = request
            let body = try await request.collectBody(upTo: 256 * 1024)
            let passed = ["Content-Type", "Accept", "MCP-Protocol-Version", "Origin"].compactMap { name in
                request.headers[HTTPField.Name(name)!].map { (name, $0) }
            }
            return try await forward(.post, "/mcp", standing: standing, request: request, context: context, body: Data(body.readableBytesView),
                                     headers: passed)
        }
        // The stateless transport has no stream to offer and no session to end.
        for method in [HTTPRequest.Method.get, .delete] {
            router.on("/mcp", method: method) { _, _ in
                Self.refusal(.methodNotAllowed, "this MCP server answers POST only (stateless streamable HTTP)", extra: [.allow: "POST"])
            }
        }
    }

    // MARK: Forwarding

    private func upstream(_ method: UpstreamClient.HTTPRequest.Method, _ path: String, standing: Standing, requestID: String,
                          body: Data? = nil, headers: [(String, String)] = [], streaming: Bool = false) -> UpstreamClient.HTTPRequest {
        var fields: [(name: String, value: String)] = headers.map { (name: $0.0, value: $0.1) }
        if body != nil, !fields.contains(where: { $0.name == "Content-Type" }) { fields.append(("Content-Type", "application/json")) }
        if case .operator(let number) = standing {
            fields += Gateway.agentHeaders(isOperator: true, requestID: requestID)
            fields.append((AgentOperatorHeader.name.rawName, AgentOperatorHeader.value(keyNumber: number)))
        } else {
            fields += Gateway.agentHeaders(isOperator: false, requestID: requestID)
        }
        return UpstreamClient.HTTPRequest(
            method: method, url: "http://localhost" + path, headers: fields, body: body,
            timeouts: .init(connect: .seconds(2), total: streaming ? nil : .seconds(configuration.api.upstreamTimeoutSeconds),
                            idle: .seconds(streaming ? 120 : configuration.api.upstreamIdleTimeoutSeconds)),
            unixSocketPath: configuration.agentSocketPath)
    }

    /// One request to the daemon and its answer; a client that leaves cancels it (an MCP `ask` stops at once).
    private func forward(_ method: UpstreamClient.HTTPRequest.Method, _ path: String, standing: Standing, request: Request,
                         context: GatewayRequestContext, body: Data? = nil, headers: [(String, String)] = []) async throws -> Response {
        let upstreamRequest = upstream(method, path, standing: standing, requestID: context.requestID, body: body, headers: headers)
        let response: UpstreamClient.HTTPResponse
        do {
            response = try await Gateway.execute(upstreamRequest, http: http, until: request)
        } catch let error as UpstreamError {
            return Self.refusal(.badGateway, "the daemon did not answer: \(error.message)")
        }
        // Hummingbird's own 404 has no body: the daemon has no such route, so the door is off there.
        if response.status == 404, response.body.isEmpty {
            return Self.refusal(.notFound, "the daemon does not serve this; is it running with this door enabled?")
        }
        var fields = HTTPFields()
        for (name, value) in response.headers where ["content-type", "mcp-protocol-version", "allow"].contains(name.lowercased()) {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        fields[.cacheControl] = "no-store"
        // Watching for the client leaving ends the connection with the answer: say so, or a pooling client sends its
        // next request on it.
        fields[.connection] = "close"
        return Response(status: .init(code: response.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: response.body)))
    }

    /// Relays the daemon's event stream until either side leaves.
    private func stream(_ path: String, standing: Standing, request: Request, context: GatewayRequestContext) async throws -> Response {
        let response: HTTPStreamingResponse
        do {
            response = try await http.stream(upstream(.get, path, standing: standing, requestID: context.requestID, streaming: true))
        } catch let error as UpstreamError {
            return Self.refusal(.badGateway, "the daemon did not answer: \(error.message)")
        }
        guard response.status == 200 else {
            response.body.cancel(reason: "not relayed")
            return Self.refusal(response.status == 429 ? .tooManyRequests : .badGateway,
                                response.status == 429 ? "too many consoles are open; close one" : "the daemon answered \(response.status)")
        }
        let requestBody = request.body
        return Response(
            status: .ok,
            // As the API's streams: no proxy buffering (X-Accel-Buffering), and the connection ends with the stream.
            headers: Gateway.streamHeaders + [HTTPField(name: .connection, value: "close")],
            body: ResponseBody { writer in
                try? await requestBody.consumeWithInboundCloseHandler { _ in
                    for try await chunk in response.body { try await writer.write(ByteBuffer(bytes: chunk)) }
                } onInboundClosed: {
                    response.body.cancel(reason: "the console closed the connection")
                }
                try await writer.finish(nil)
            })
    }

    static func refusal(_ status: HTTPResponse.Status, _ message: String, extra: HTTPFields = [:]) -> Response {
        var headers = securityHeaders
        headers.append(contentsOf: extra)
        return JSONResponse.refusal(status, message, headers: headers)
    }
}
