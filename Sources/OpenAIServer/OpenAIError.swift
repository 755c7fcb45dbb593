import FoundationEssentials
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
