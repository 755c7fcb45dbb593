import Foundation
import Monitoring

/// An event as stored: what happened, when, and what was decided about it.
public struct StoredEvent: Sendable, Equatable, Codable {
    public var id: Int64
    /// Microseconds since the epoch: the log line's own time when it had one, else when it was processed.
    public var timeMicroseconds: Int64
    public var templateID: Int
    public var severity: Severity
    public var category: Category
    public var escalate: Bool
    public var summary: String
    public var source: String
    public var message: String
    public var unit: String?
    public var identifier: String?
}
