import Foundation

/// One line of the audit log: what happened to a proposal, who or what decided, and the details (the exact
/// calls made, the result, the reason).
public struct AuditEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var time: Date
    public var proposalID: Int64
    public var event: String
    public var actor: String
    public var detail: String
    public var unit: String?

    public init(id: Int64, time: Date, proposalID: Int64, event: String, actor: String, detail: String, unit: String?) {
        self.id = id
        self.time = time
        self.proposalID = proposalID
        self.event = event
        self.actor = actor
        self.detail = detail
        self.unit = unit
    }
}
