import FoundationEssentials
import Hummingbird
import OpenAIServer
import UpstreamClient

/// How the gateway says what went wrong in the shape OpenAI clients parse: refusals of a request, and what an
/// upstream (the meta model, or the daemon's agent) answered or failed with.
extension Gateway {
    /// The refusal of a request body that is not declared as JSON, or `nil`.
    static func contentTypeRefusal(_ contentType: String?) -> OpenAIError? {
        let contentType = contentType ?? ""
        guard contentType.lowercased().hasPrefix("application/json") else {
            return .invalidRequest("Content-Type must be application/json (got '\(contentType.prefix(64))')", code: "invalid_content_type")
        }
        return nil
    }

    /// A body over `api.maxBodyBytes`.
    static func tooLarge(_ limit: Int) -> OpenAIError {
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
            return agentRefusal(status: error.status ?? 502, body: Data((error.body ?? "").utf8))
        case .idleTimeout, .totalTimeout:
            return OpenAIError(.gatewayTimeout, "the chat agent did not answer in time (\(error.code))", type: "server_error", code: "agent_timeout")
        default:
            return OpenAIError(.badGateway, "the chat agent's answer could not be relayed (\(error.code))", type: "server_error", code: "agent_error")
        }
    }

    /// The agent's own refusal, passed on as it said it: its status, message, type and code.
    static func agentRefusal(status: Int, body: Data) -> OpenAIError {
        let said = ReportedError(body)
        let status = HTTPResponse.Status(code: (400...599).contains(status) ? status : 502)
        return OpenAIError(status, said?.message ?? "the chat agent answered \(status.code)",
                           type: said?.type ?? (status.code < 500 ? "invalid_request_error" : "server_error"), code: said?.code ?? "agent_error")
    }

    /// A refusal of the meta model's server (llama-server's own error shape, an integer `code`) in OpenAI's: a 4xx
    /// keeps its status and says what the server objected to; anything else is the server's failure, a 502.
    static func upstreamRefusal(status: Int, body: Data) -> OpenAIError {
        let said = ReportedError(body)?.message ?? String(decoding: body.prefix(300), as: UTF8.self)
        let detail = said.isEmpty ? "" : ": \(said.prefix(500))"
        if (400...499).contains(status) {
            return OpenAIError(HTTPResponse.Status(code: status), "the meta model's server refused the request (\(status))\(detail)",
                               type: "invalid_request_error", code: "upstream_rejected")
        }
        return OpenAIError(.badGateway, "the meta model's server failed (\(status))\(detail)", type: "server_error", code: "upstream_error")
    }

    /// Maps a failure to reach the upstream to what the client should see.
    static func map(_ error: UpstreamError) -> OpenAIError {
        switch error.code {
        case .connectionRefused, .connectionFailed, .connectTimeout:
            return .upstreamUnavailable(error.code.description)
        case .httpStatus where error.status == 503:
            return .upstreamUnavailable("the model is loading")
        case .httpStatus:
            return upstreamRefusal(status: error.status ?? 502, body: Data((error.body ?? "").utf8))
        case .idleTimeout, .totalTimeout:
            return OpenAIError(.gatewayTimeout, "the meta model did not answer in time (\(error.code))",
                               type: "server_error", code: "upstream_timeout")
        default:
            return OpenAIError(.badGateway, "the meta model's answer could not be relayed (\(error.code))",
                               type: "server_error", code: "upstream_error")
        }
    }

    /// No slot came free while the request waited in the queue.
    static func queueTimeout(_ waited: Duration) -> OpenAIError {
        var error = OpenAIError(.serviceUnavailable, "no slot of the meta model came free within \(waited)", type: "server_error", code: "queue_timeout")
        error.headers[.retryAfter] = "5"
        return error
    }
}
