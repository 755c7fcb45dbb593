import Foundation
import HTTPTypes
import OpenAIServer

extension OpenAIError {
    static func invalidRequest(_ message: String, code: String = "invalid_request") -> OpenAIError {
        OpenAIError(.badRequest, message, type: "invalid_request_error", code: code)
    }

    static func unauthorized() -> OpenAIError {
        var error = OpenAIError(.unauthorized, "a valid API key is required (Authorization: Bearer KEY or x-api-key: KEY)",
                                type: "authentication_error", code: "invalid_api_key")
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }

    static func upstreamUnavailable(_ detail: String) -> OpenAIError {
        var error = OpenAIError(.serviceUnavailable, "the meta model is not available right now (\(detail)); retry shortly",
                                type: "server_error", code: "upstream_unavailable")
        error.headers[.retryAfter] = "5"
        return error
    }
}

/// An error an upstream reported in its body, OpenAI's shape or llama-server's (whose `code` is the HTTP status).
struct ReportedError {
    let message: String
    let type: String?
    /// A string code; llama-server's integer codes are none.
    let code: String?

    init?(_ body: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let error = object["error"] as? [String: Any], let message = error["message"] as? String else { return nil }
        self.message = String(message.prefix(1000))
        type = (error["type"] as? String).map { String($0.prefix(64)) }
        code = (error["code"] as? String).map { String($0.prefix(64)) }
    }
}
