import FoundationEssentials

/// A failure talking to a model server, with a code callers can switch on and a message that names what
/// happened.
///
/// A struct with an extensible ``Code`` rather than a public enum, so new failure kinds do not break callers.
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case connectionRefused = "connection refused"
            case connectionFailed = "connection failed"
            case connectTimeout = "connect timeout"
            case totalTimeout = "total timeout"
            case idleTimeout = "idle timeout"
            case httpStatus = "HTTP status"
            case malformedStream = "malformed stream"
            case invalidResponse = "invalid response"
            case invalidRequest = "invalid request"
            case cancelled = "cancelled"
            case transport = "transport"
        }
        fileprivate let base: Base
        /// Nothing listens on the port (ECONNREFUSED).
        public static let connectionRefused = Code(base: .connectionRefused)
        /// Name resolution or connect failed for another reason.
        public static let connectionFailed = Code(base: .connectionFailed)
        /// No connection within the connect timeout.
        public static let connectTimeout = Code(base: .connectTimeout)
        /// The whole exchange took longer than the total timeout.
        public static let totalTimeout = Code(base: .totalTimeout)
        /// No byte arrived for longer than the idle timeout.
        public static let idleTimeout = Code(base: .idleTimeout)
        /// The server answered with a non-2xx status; ``UpstreamError/status`` and ``UpstreamError/body`` hold it.
        public static let httpStatus = Code(base: .httpStatus)
        /// A streamed response did not follow the Server-Sent Events or chunk format.
        public static let malformedStream = Code(base: .malformedStream)
        /// A complete response could not be decoded into the expected type.
        public static let invalidResponse = Code(base: .invalidResponse)
        /// The request could not be built (bad URL, unencodable body).
        public static let invalidRequest = Code(base: .invalidRequest)
        /// The calling task was cancelled and the transfer aborted.
        public static let cancelled = Code(base: .cancelled)
        /// Any other libcurl failure; the message carries curl's own text.
        public static let transport = Code(base: .transport)
        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String
    /// The HTTP status for ``Code/httpStatus``.
    public let status: Int?
    /// The response body for ``Code/httpStatus`` (bounded to 64 KiB), so the server's own error is visible.
    public let body: String?

    public init(_ code: Code, _ message: String, status: Int? = nil, body: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.body = body
    }

    /// The `error.message` of an OpenAI-shaped error body (`{"error":{"message":…}}`), when the body is one: the
    /// server's own words for why it refused.
    public var serverMessage: String? {
        struct Body: Decodable {
            struct Detail: Decodable { let message: String }
            let error: Detail
        }
        return body.flatMap { try? JSONDecoder().decode(Body.self, from: Data($0.utf8)) }?.error.message
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let body, !body.isEmpty { text += " — body: \(body.prefix(500))" }
        return text
    }
}
