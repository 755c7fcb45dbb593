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
