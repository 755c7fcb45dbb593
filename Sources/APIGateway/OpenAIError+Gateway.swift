import FoundationEssentials
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
        guard let error = (try? JSONDecoder().decode(Envelope.self, from: body))?.error else { return nil }
        message = String(error.message.prefix(1000))
        type = error.type.map { String($0.prefix(64)) }
        code = error.code.map { String($0.prefix(64)) }
    }

    /// `{"error": {"message": …}}`; a `type` or `code` that is not a string counts as none.
    private struct Envelope: Decodable {
        struct Reported: Decodable {
            let message: String
            let type: String?
            let code: String?

            init(from decoder: any Decoder) throws {
                let members = try decoder.container(keyedBy: CodingKeys.self)
                message = try members.decode(String.self, forKey: .message)
                type = (try? members.decodeIfPresent(String.self, forKey: .type)) ?? nil
                code = (try? members.decodeIfPresent(String.self, forKey: .code)) ?? nil
            }

            private enum CodingKeys: String, CodingKey {
                case message, type, code
            }
        }

        let error: Reported
    }
}
