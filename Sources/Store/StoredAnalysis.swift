import Foundation
import Reasoning

/// A Layer 4 analysis as stored: what escalated, the tool steps, and the analysis or why there is none.
public struct StoredAnalysis: Sendable, Equatable, Codable {
    public struct Step: Sendable, Equatable, Codable {
        public var tool: String
        public var arguments: [String: String]
        public var result: String

        public init(tool: String, arguments: [String: String], result: String) {
            self.tool = tool
            self.arguments = arguments
            self.result = result
        }
    }

    public var id: Int64
    public var time: Date
    public var escalation: String
    public var analysis: Analysis?
    public var failure: String?
    public var steps: [Step]

    public init(id: Int64 = 0, time: Date, escalation: String, analysis: Analysis?, failure: String?, steps: [Step]) {
        self.id = id
        self.time = time
        self.escalation = escalation
        self.analysis = analysis
        self.failure = failure
        self.steps = steps
    }
}
