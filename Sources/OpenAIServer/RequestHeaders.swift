import HTTPTypes

/// How the gateway tells the daemon's agent who its client is. The agent socket is open to root and the daemon's
/// group only, so whoever connects to it is an operator; the gateway, one such peer, says when its client is not.
public enum AgentRequesterHeader {
    public static let name = HTTPField.Name("X-AI-Sysadmin-Requester")!
    /// The client presented a key from `api.operatorKeyFile`.
    public static let authenticatedOperator = "operator"
    /// Any other client.
    public static let unauthenticatedClient = "client"
}

/// Which operator key a gateway client presented (`key 2`: the second line of `api.operatorKeyFile`), so the audit
/// log can tell operators apart without the key itself. Set by the gateway only; the daemon ignores anything that
/// is not that shape.
public enum AgentOperatorHeader {
    public static let name = HTTPField.Name("X-AI-Sysadmin-Operator")!

    public static func value(keyNumber: Int) -> String { "key \(keyNumber)" }

    /// `key N` when the header is exactly that.
    public static func label(in headers: HTTPFields) -> String? {
        guard let value = headers[name], value.hasPrefix("key "), let number = Int(value.dropFirst(4)), (1...9999).contains(number) else {
            return nil
        }
        return "key \(number)"
    }
}

/// The request id the gateway gives every request (echoed to the client, in its log line) and passes to the
/// daemon's agent, so one id follows a request through both processes' logs.
public enum RequestIDHeader {
    public static let name = HTTPField.Name("X-Request-Id")!

    private static let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".utf8)

    /// The id in `headers` when it is a short plain token; anything else (it may come from any local client) is
    /// ignored.
    public static func id(in headers: HTTPFields) -> String? {
        guard let id = headers[name], (1...64).contains(id.utf8.count), id.utf8.allSatisfy(allowed.contains) else { return nil }
        return id
    }
}
