import HTTPTypes
import Hummingbird

/// Cross-origin access for browser frontends, allowed per origin (`api.corsOrigins`); none by default.
///
/// A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is answered here,
/// before authentication, as browsers send it without credentials. Other origins get no CORS headers, so
/// the browser keeps the response from the page. The console and `/mcp` never get CORS headers: another origin's
/// page must not read them, whatever `api.corsOrigins` allows for the API.
struct CORSPolicyMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowedOrigins: Set<String>

    private static var requestMethod: HTTPField.Name { HTTPField.Name("Access-Control-Request-Method")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], allowedOrigins.contains(origin) || allowedOrigins.contains("*"),
              !OperatorDoors.isDoorPath(request.uri.path) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[Self.requestMethod] != nil {
            var headers = corsHeaders(origin)
            headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type, x-api-key"
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: corsHeaders(origin))
            return response
        } catch let error as any HTTPResponseError {
            // Errors must carry the headers too, or the page cannot read why its request failed.
            var response = try error.response(from: request, context: context)
            response.headers.append(contentsOf: corsHeaders(origin))
            return response
        }
    }

    private func corsHeaders(_ origin: String) -> HTTPFields {
        [.accessControlAllowOrigin: origin, .vary: "Origin", .accessControlExposeHeaders: "X-Request-Id"]
    }

    /// The headers an actual (not preflight) request from `origin` gets, or `nil` when the origin is not allowed.
    static func headers(for origin: String, allowed: [String]) -> HTTPFields? {
        guard allowed.contains(origin) || allowed.contains("*") else { return nil }
        return Self(allowedOrigins: []).corsHeaders(origin)
    }
}
