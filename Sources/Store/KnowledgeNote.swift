import Foundation

/// A knowledge-base entry.
public struct KnowledgeNote: Sendable, Equatable, Codable {
    public var id: Int64
    public var time: Date
    public var title: String
    public var body: String
    public var tags: [String]
}
