import Foundation
@testable import Reasoning
import Testing
import UpstreamClient

@Suite struct AnalysisSchemaTests {
    /// The longest `{"final": …}` the compact schema allows, written out: the retry after a cut-off or an unusable
    /// answer must fit the token limit even for a model that spends a token on every character.
    @Test func theCompactAnalysisSchemasLongestAnswerFitsTheTokenLimit() throws {
        guard case .object(let root) = Analyst.analysisSchema(compact: true), case .object(let properties)? = root["properties"],
              case .object(let actions)? = properties["actions"], case .number(let actionCount)? = actions["maxItems"] else {
            Issue.record("the compact schema lost its bounds")
            return
        }
        var answer: [String: Any] = ["confidence": "medium"]
        for field in ["diagnosis", "root_cause", "rollback", "prevention", "knowledge_note"] {
            guard case .object(let text)? = properties[field], case .number(let limit)? = text["maxLength"] else {
                Issue.record("\(field) is unbounded")
                return
            }
            answer[field] = String(repeating: "x", count: Int(limit))
        }
        // The action alternative with the most to say: investigate, with a command, a unit and a line count.
        let action: [String: Any] = ["type": "investigate", "reason": String(repeating: "r", count: 200),
                                     "parameters": ["command": "process_list", "unit": String(repeating: "u", count: 96), "lines": "9999999"]]
        answer["actions"] = Array(repeating: action, count: Int(actionCount))
        let bytes = try JSONSerialization.data(withJSONObject: ["final": answer]).count
        // A quarter of the limit stays for the whitespace the grammar allows between tokens.
        #expect(bytes <= Analyst.answerTokens * 3 / 4, "\(bytes) bytes")
        // The full schema is what the first attempt is asked with; it is the one that may run out.
        #expect(Analyst.stepSchema(finalOnly: true, compact: true) != Analyst.stepSchema(finalOnly: true))
    }
}
