import FoundationEssentials

/// One request to a model server.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable { case get = "GET", post = "POST", options = "OPTIONS" }

    public var method: Method
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Data?
    public var timeouts: HTTPTimeouts
    /// How many redirects to follow, to https:// only; model servers never redirect, so 0 by default
    /// (downloads from Hugging Face are redirected to its CDN).
    public var maximumRedirects: Int
    /// Connect to this Unix socket instead of the URL's host and port (the URL still gives the path and the
    /// `Host` header): how the gateway and the CLI reach the daemon's agent.
    public var unixSocketPath: String?

    public init(
        method: Method = .get, url: String, headers: [(name: String, value: String)] = [], body: Data? = nil,
        timeouts: HTTPTimeouts = .init(), maximumRedirects: Int = 0, unixSocketPath: String? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeouts = timeouts
        self.maximumRedirects = maximumRedirects
        self.unixSocketPath = unixSocketPath
    }
}

/// The three ways a transfer can take too long, each reported as its own ``UpstreamError/Code``.
public struct HTTPTimeouts: Sendable, Equatable {
    /// Until the TCP connection is up.
    public var connect: Duration
    /// The whole exchange, from submit to the last byte; `nil` for none (long streams).
    public var total: Duration?
    /// The longest gap without a received byte, once connected; `nil` for none.
    public var idle: Duration?

    public init(connect: Duration = .seconds(5), total: Duration? = nil, idle: Duration? = .seconds(120)) {
        self.connect = connect
        self.total = total
        self.idle = idle
    }
}

/// A complete response.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let name = name.lowercased()
        return headers.first { $0.name.lowercased() == name }?.value
    }
}

/// A response whose body arrives as it is produced. Dropping the body or cancelling the iterating task
/// aborts the transfer.
public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: HTTPBodyStream

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let name = name.lowercased()
        return headers.first { $0.name.lowercased() == name }?.value
    }
}
