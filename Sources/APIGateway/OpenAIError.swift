import Foundation
import HTTPTypes
import Hummingbird

/// An error in the shape OpenAI clients parse: `{"error":{"message","type","code"}}`, with its status.
public struct OpenAIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let message: String
    public let type: String
    public let code: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ message: String, type: String, code: String?) {
        self.status = status
        self.message = message
        self.type = type
        self.code = code
    }

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

    private struct Body: Encodable {
        struct Detail: Encodable {
            let message: String
            let type: String
            let code: String?
        }
        let error: Detail
    }

    /// The JSON body, also sent as a `data:` event when a stream fails after it started.
    public var json: Data {
        (try? JSONEncoder().encode(Body(error: .init(message: message, type: type, code: code)))) ?? Data()
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json)))
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
