import SysadminConfiguration
import Testing
import UpstreamClient
@testable import Monitoring

@Suite struct TriggerClassifierTests {
    // Never asked: validation and the schema need no server.
    private let classifier = TriggerClassifier(client: OpenAIClient(endpoint: ModelEndpoint(baseURL: "http://127.0.0.1:9")))

    @Test func aValidVerdictIsKeptWithItsSummaryCleaned() throws {
        let verdict = try classifier.validate("error", "disk", true, "  disk\u{1B}[31m nearly full  ").get()
        #expect(verdict == Verdict(severity: .error, category: .disk, escalate: true, summary: "disk [31m nearly full"))
    }

    @Test(arguments: [
        ("catastrophic", "disk", "fine", "unknown severity"),
        ("error", "kernel", "fine", "unknown category"),
        ("error", "disk", String(repeating: "x", count: 121), "longer than 120"),
        ("error", "disk", "   ", "empty"),
    ])
    func anInvalidVerdictIsAFailureNamingWhy(_ severity: String, _ category: String, _ summary: String, _ reason: String) {
        guard case .failure(let failure) = classifier.validate(severity, category, false, summary) else {
            Issue.record("accepted")
            return
        }
        #expect(failure.reason.contains(reason), "\(failure.reason)")
    }

    @Test func theSchemaPinsOneVerdictPerTemplateInOrder() {
        guard case .object(let root) = classifier.schema(count: 3),
              case .object(let properties)? = root["properties"],
              case .object(let verdicts)? = properties["verdicts"],
              case .array(let items)? = verdicts["prefixItems"] else {
            Issue.record("unexpected schema shape")
            return
        }
        #expect(items.count == 3)
        for (index, item) in items.enumerated() {
            guard case .object(let object) = item, case .object(let fields)? = object["properties"],
                  case .object(let template)? = fields["template"] else { Issue.record("item \(index)"); continue }
            #expect(template["const"] == .number(Double(index + 1)))
        }
    }

    @Test func severitiesAreOrdered() {
        #expect(Severity.normal < .info && Severity.info < .warning && Severity.warning < .error && Severity.error < .critical)
    }
}
