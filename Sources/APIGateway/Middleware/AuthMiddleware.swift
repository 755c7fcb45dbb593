import Hummingbird
import OpenAIServer

/// Rejects `/v1` requests without a valid key.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: GatewayKeys

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = GatewayKeys.presented(in: request.headers), keys.accepts(presented) else { throw OpenAIError.unauthorized() }
        return try await next(request, context)
    }
}
