import Foundation
import Monitoring
import SysadminConfiguration
import Testing
import UpstreamClient
@testable import Reasoning

@Suite struct ReviewTests {
    @Test func theReviewCleansTextAndPassesProposalsOnForTheExecutorToJudge() throws {
        let raw = Review(
            status: .degraded, summary: "  nginx keeps failing\u{1B}[2J ", issues: [
                .init(severity: .error, category: .service, description: "restarts", units: ["nginx.service", "../../etc/passwd", "x;rm -rf /.service", "app@1.service"]),
            ],
            proposedActions: [
                .init(type: "restart_unit", parameters: ["unit": "nginx.service"], reason: "it failed\u{7}"),
                .init(type: "restart_unit", parameters: ["unit": "nginx; rm -rf /"], reason: "injected"),
                .init(type: "kill_process", parameters: ["pid": "4242"], reason: "runaway"),
                .init(type: "kill_process", parameters: ["pid": "1"], reason: "a fourth is over the limit"),
            ],
            escalate: true, escalationReason: "repeated failures")
        let review = try Reviewer.validate(raw).get()
        #expect(!review.summary.unicodeScalars.contains { $0.value < 0x20 })
        #expect(review.issues.first?.units == ["nginx.service", "app@1.service"])
        // Not filtered here: the executor validates, and records each rejection with its reason.
        #expect(review.proposedActions.map(\.parameters) == [["unit": "nginx.service"], ["unit": "nginx; rm -rf /"], ["pid": "4242"]])
        #expect(!review.proposedActions[0].reason.unicodeScalars.contains { $0.value < 0x20 })
    }

    /// Each alternative of the action schema names its types; together they are exactly the executor's types.
    @Test func theActionSchemaCoversEveryActionTypeOnce() throws {
        guard case .object(let root) = Review.actionItemSchema, case .array(let alternatives)? = root["anyOf"] else {
            Issue.record("no anyOf")
            return
        }
        var types: [String] = []
        for alternative in alternatives {
            guard case .object(let item) = alternative, case .object(let properties)? = item["properties"],
                  case .object(let type)? = properties["type"], case .array(let names)? = type["enum"] else { continue }
            for name in names {
                if case .string(let text) = name { types.append(text) }
            }
        }
        #expect(types.sorted() == Review.actionTypes.sorted())
    }

}

extension ReviewTests {
    /// The longest answer the compact schema allows, written out: the retry after a cut-off must fit the token
    /// limit even for a model that spends a token on every character (no token is shorter than one).
    @Test func theCompactReviewSchemasLongestAnswerFitsTheTokenLimit() throws {
        guard case .object(let root) = Reviewer.schema(compact: true), case .object(let properties)? = root["properties"],
              case .object(let issues)? = properties["issues"], case .number(let issueCount)? = issues["maxItems"],
              case .object(let actions)? = properties["proposed_actions"], case .number(let actionCount)? = actions["maxItems"],
              case .object(let summary)? = properties["summary"], case .number(let prose)? = summary["maxLength"] else {
            Issue.record("the compact schema lost its bounds")
            return
        }
        func longest(_ values: [String]) -> String { values.max { $0.count < $1.count }! }
        let text = String(repeating: "x", count: Int(prose))
        let issue: [String: Any] = ["severity": longest(Severity.allCases.map(\.rawValue)), "category": longest(Category.allCases.map(\.rawValue)),
                                    "description": text, "units": [String(repeating: "u", count: 64)]]
        // The action alternative with the most to say: investigate, with a command, a unit and a line count.
        let action: [String: Any] = ["type": "investigate", "reason": String(repeating: "r", count: 200),
                                     "parameters": ["command": "process_list", "unit": String(repeating: "u", count: 96), "lines": "9999999"]]
        let answer: [String: Any] = ["status": longest(Review.Status.allCases.map(\.rawValue)), "summary": text,
                                     "issues": Array(repeating: issue, count: Int(issueCount)),
                                     "proposed_actions": Array(repeating: action, count: Int(actionCount)),
                                     "escalate": false, "escalation_reason": text]
        let bytes = try JSONSerialization.data(withJSONObject: answer).count
        // A quarter of the limit stays for the whitespace the grammar allows between tokens.
        #expect(bytes <= Reviewer.answerTokens * 3 / 4, "\(bytes) bytes")
    }
}
