/// One of the operator's doors besides chat — the console (`console`: a page at the gateway's `/`) and MCP (`mcp`:
/// `ai-sysadmin mcp` over stdio and the gateway's `/mcp`) — both behind the gateway's keys.
public struct DoorConfiguration: Sendable, Equatable, Codable {
    /// Off by default. On a gateway that listens beyond loopback it needs `api.requireAuth`.
    public var enable = false

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case enable }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enable = try c.decode(.enable, default: enable)
    }
}
