import Foundation
import SysadminConfiguration
import Testing
@testable import Monitoring

/// The built-in signatures as data: each matches its own examples, as a line and as its template, and none
/// matches the routine lines of the shipped corpus.
@Suite struct SignaturePackTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func everySignatureMatchesItsExamplesAndItsKeywordsRuleOutNone() {
        let pack = SignaturePack.builtIn
        #expect(pack.signatures.count >= 25)
        #expect(Set(pack.signatures.map(\.id)).count == pack.signatures.count, "ids are unique")
        for signature in pack.signatures {
            #expect(!signature.examples.isEmpty && !signature.why.isEmpty, "\(signature.id) has examples and a reason")
            #expect(signature.keywords.allSatisfy { !$0.isEmpty && String(decoding: $0, as: UTF8.self) == String(decoding: $0, as: UTF8.self).lowercased() },
                    "\(signature.id): keywords are lowercase")
            for example in signature.examples {
                // Alone (the keyword filter first, as the pack matches), and as the gravest of the pack.
                #expect(signature.matches(example, lowercased: Array(example.lowercased().utf8)), "\(signature.id) does not match its example: \(example)")
                let best = pack.match(example)
                #expect(best.map { $0.severity >= signature.severity } == true, "\(example) gets \(best?.id ?? "nothing"), not at least \(signature.id)")
            }
        }
    }

    /// A template is decided once for all its lines, so a pattern must say the same of a line and of its template
    /// (numbers and names masked); the one pattern that looks at a masked value is matched line by line.
    @Test func aTemplateMatchesTheSignatureOfItsLines() {
        let pack = SignaturePack.builtIn
        for signature in pack.signatures {
            for example in signature.examples {
                var miner = TemplateMiner()
                let id = miner.add(example).id
                // A second line that differs in every number makes the miner mask them.
                _ = miner.add(example.map { $0.isNumber ? ($0 == "9" ? "8" : "9") : $0 }.reduce(into: "") { $0.append($1) })
                let template = miner[id]?.text ?? ""
                if signature.perLine {
                    #expect(pack.looksAtValues(template), "\(signature.id): its template is matched line by line: \(template)")
                } else {
                    #expect(pack.match(template)?.id == pack.match(example)?.id, "\(signature.id): TEMPLATE<\(template)> decides otherwise than \(example)")
                }
            }
        }
    }

    @Test func noSignatureMatchesARoutineLineOfTheShippedCorpus() throws {
        let corpus = Self.repository.appendingPathComponent("benchmarks/judgment/corpus.log").path
        let labels = try JudgmentLabels(parsing: String(contentsOfFile: Self.repository.appendingPathComponent("benchmarks/judgment/labels.csv").path,
                                                        encoding: .utf8))
        var reader = try LogDumpReader(path: corpus)
        var routine = 0
        while let record = reader.next() {
            guard labels.expected[reader.recordNumber] == nil else { continue }
            routine += 1
            let hit = SignaturePack.builtIn.match(record.message)
            #expect(hit == nil, "line \(reader.recordNumber) is routine, yet \(hit?.id ?? "") matches: \(record.message)")
        }
        #expect(routine > 4000)
    }

    @Test func theOperatorSwitchesOffOrChangesASignatureById() throws {
        let oom = "Out of memory: Killed process 2203 (gunicorn) total-vm:16934412kB"
        #expect(SignaturePack.builtIn.match(oom)?.id == "oom-killer")
        let off = SignaturePack(overrides: ["oom-killer": .init(enable: false)])
        #expect(off.signatures.count == SignaturePack.builtIn.signatures.count - 1)
        #expect(off.match(oom)?.id != "oom-killer")
        let milder = SignaturePack(overrides: ["auth-failure": .init(severity: "error", escalate: true)])
        let failed = try #require(milder.match("Failed password for root from 203.0.113.45 port 52000 ssh2"))
        #expect(failed.id == "auth-failure" && failed.severity == .error && failed.escalate)
        #expect(SignaturePack.builtIn.match("Failed password for root from 203.0.113.45 port 52000 ssh2")?.severity == .warning, "the built-in pack is unchanged")
    }

    @Test func unknownIdsAndSeveritiesAreNamedByTheChecks() {
        var monitoring = MonitoringConfiguration()
        monitoring.signatures = ["oom-killer": .init(severity: "catastrophic"), "no-such-one": .init(enable: false)]
        let problems = SignaturePack.problems(in: monitoring)
        #expect(problems.map(\.keyPath) == ["monitoring.signatures.no-such-one"])
        #expect(problems.first?.message.contains("oom-killer") == true, "the known ids are listed")
        var configuration = DaemonConfiguration()
        configuration.monitoring = monitoring
        let issues = ConfigurationValidator().validate(configuration)
        #expect(issues.contains { $0.keyPath == "monitoring.signatures.oom-killer.severity" && $0.message.contains("'catastrophic' is not one of") })
    }

    @Test func anOverrideWithAnUnknownKeyIsRefusedWhenTheFileIsRead() {
        let json = #"{"monitoring": {"signatures": {"oom-killer": {"enabled": false}}}}"#
        #expect(throws: ConfigurationError.self) { try DaemonConfiguration.decode(Data(json.utf8)) }
    }
}
