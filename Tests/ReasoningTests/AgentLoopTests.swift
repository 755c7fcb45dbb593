import Foundation
import Reasoning
import Synchronization
import Testing
import UpstreamClient

/// The loop's own rules, with real tools run in process and the model's steps scripted: budgets, repeats, argument
/// hygiene, the native transcript, and which results give way when the prompt grows.
@Suite struct AgentLoopTests {
    /// A look-up that records every run.
    final class Ran: Sendable {
        let calls = Mutex<[[String: String]]>([])
        var count: Int { calls.withLock { $0.count } }
    }

    private func lookUp(_ name: String, arguments: [String: String] = ["unit": "the unit"], ran: Ran, output: String = "fine") -> AgentLoop.Tool {
        AgentLoop.Tool(name: name, description: "look", arguments: arguments) { given in
            ran.calls.withLock { $0.append(given) }
            return output
        }
    }

    private func loop(_ tools: [AgentLoop.Tool], calls: Int = 3, deadline: Duration? = nil, transcriptTokens: Int = 10_000) -> AgentLoop {
        AgentLoop(tools: tools, maximumToolCalls: calls, deadline: deadline, toolOutputLimit: 100, transcriptTokens: transcriptTokens,
                  count: { $0.utf8.count })
    }

    @Test func aRepeatedLookUpIsAnsweredWithoutRunningAndStillCounts() async throws {
        let ran = Ran()
        var lastSeen: [Bool] = []
        let run = try await loop([lookUp("unit_status", ran: ran)]).run { (progress: AgentLoop.Progress) -> AgentLoop.Step<String> in
            lastSeen.append(progress.isLast)
            return progress.isLast ? .conclude("done") : .call(.init(name: "unit_status", arguments: ["unit": "a.service"]))
        }
        #expect(run.conclusion == "done")
        #expect(ran.count == 1, "a repeat ran again")
        #expect(run.findings.map(\.repeated) == [false, true, true])
        #expect(run.findings.last?.result == "already looked up above")
        #expect(lastSeen == [false, false, false, true], "three calls, then the last step")
    }

    @Test func argumentsAreLimitedToTheToolsNamesAndCleanedButAnActionsPassAsSent() async throws {
        let ran = Ran(), proposed = Ran()
        let action = AgentLoop.Tool(name: "propose_action", description: "change", arguments: [:], kind: .action) { given in
            proposed.calls.withLock { $0.append(given) }
            return "queued"
        }
        let run = try await loop([lookUp("journal", ran: ran), action]).run { (progress: AgentLoop.Progress) -> AgentLoop.Step<Bool> in
            switch progress.findings.count {
            case 0: .call(.init(name: "journal", arguments: ["unit": "a.service\u{1B}[2J", "hours": "", "rm": "-rf"]))
            case 1: .call(.init(name: "propose_action", arguments: ["type": "restart_unit", "unit": "../x"]))
            default: .conclude(true)
            }
        }
        #expect(ran.calls.withLock { $0 } == [["unit": "a.service [2J"]], "the control character is replaced")
        #expect(proposed.calls.withLock { $0 } == [["type": "restart_unit", "unit": "../x"]])
        #expect(run.findings.map(\.call) == ["journal unit=a.service [2J", "propose_action"])
        #expect(run.findings.map(\.kind) == [.lookUp, .action])
    }

    @Test func anUnknownToolIsAnsweredWithTheListAndCounts() async throws {
        let ran = Ran()
        let run = try await loop([lookUp("journal", ran: ran), lookUp("unit_status", ran: ran)], calls: 1)
            .run { (progress: AgentLoop.Progress) -> AgentLoop.Step<Bool> in
                progress.isLast ? .conclude(true) : .call(.init(name: "rm -rf /", arguments: [:]))
            }
        #expect(run.findings.first?.result == "unknown tool 'rm -rf /'; the tools are journal, unit_status")
        #expect(ran.count == 0)
    }

    @Test func nativeCallsBeyondTheBudgetAreNeitherRunNorSentBack() async throws {
        let ran = Ran()
        let calls = (1...3).map { ToolCall(id: "call_\($0)", function: .init(name: "journal", arguments: #"{"unit":"u\#($0).service","hours":2}"#)) }
        var transcripts: [[ChatMessage]] = []
        let run = try await loop([lookUp("journal", arguments: ["unit": "", "hours": ""], ran: ran)], calls: 2)
            .run { (progress: AgentLoop.Progress) -> AgentLoop.Step<Bool> in
                transcripts.append(progress.transcript)
                return progress.isLast ? .conclude(true) : .toolCalls(calls)
            }
        #expect(ran.calls.withLock { $0 } == [["unit": "u1.service", "hours": "2"], ["unit": "u2.service", "hours": "2"]])
        let sent = try #require(transcripts.last)
        #expect(sent.first?.toolCalls?.map(\.id) == ["call_1", "call_2"], "only the calls that ran are sent back")
        #expect(sent.dropFirst().map(\.role) == ["tool", "tool"] && sent.dropFirst().map(\.toolCallID) == ["call_1", "call_2"])
        #expect(run.findings.count == 2)
    }

    @Test func callsOnTheLastStepEndTheLoopWithoutAConclusion() async throws {
        let ran = Ran()
        let run = try await loop([lookUp("journal", ran: ran)], calls: 0).run { (_: AgentLoop.Progress) -> AgentLoop.Step<Bool> in
            .call(.init(name: "journal", arguments: [:]))
        }
        #expect(run.conclusion == nil && ran.count == 0)
    }

    @Test func aSpentTimeBudgetMakesTheNextStepTheLast() async throws {
        let ran = Ran()
        var seen: [Bool] = []
        _ = try await loop([lookUp("journal", ran: ran)], calls: 5, deadline: .zero).run { (progress: AgentLoop.Progress) -> AgentLoop.Step<Bool> in
            seen.append(progress.isLast)
            return .conclude(true)
        }
        #expect(seen == [true])
    }

    @Test func prefetchedLookUpsAreShownButNotCounted() async throws {
        let ran = Ran()
        var observed: [String] = []
        let run = try await loop([lookUp("unit_status", ran: ran)], calls: 1).run(
            prefetch: [.init(name: "unit_status", arguments: ["unit": "a.service"])],
            observe: { observed.append($0.call) }
        ) { (progress: AgentLoop.Progress) -> AgentLoop.Step<Bool> in
            progress.isLast ? .conclude(true) : .call(.init(name: "unit_status", arguments: ["unit": "b.service"]))
        }
        #expect(observed == ["unit_status unit=a.service", "unit_status unit=b.service"])
        #expect(run.findings.map(\.prefetched) == [true, false])
    }

    @Test func theOldestResultsGiveWayAndTheNewestStays() async throws {
        let ran = Ran()
        let big = String(repeating: "x", count: 60)
        var transcripts: [[ChatMessage]] = []
        let run = try await loop([lookUp("journal", arguments: ["unit": ""], ran: ran, output: big)], calls: 3, transcriptTokens: 150)
            .run { (progress: AgentLoop.Progress) -> AgentLoop.Step<Bool> in
                transcripts.append(progress.transcript)
                let call = ToolCall(id: "c\(progress.findings.count)", function: .init(name: "journal", arguments: #"{"unit":"u\#(progress.findings.count)"}"#))
                return progress.isLast ? .conclude(true) : .toolCalls([call])
            }
        let last = try #require(transcripts.last).filter { $0.role == "tool" }.map { $0.content ?? "" }
        #expect(last.count == 3)
        #expect(last.first == "(dropped for space)", "the oldest result stayed: \(last)")
        #expect(last.last == big, "the newest result gave way")

        let shown = AgentLoop.newest(run.findings, within: 80, count: { $0.utf8.count })
        #expect(shown.kept.map(\.call) == ["journal unit=u2"] && shown.dropped == 2)
        #expect(AgentLoop.newest(run.findings, within: 0, count: { $0.utf8.count }).kept.count == 1, "the newest is always kept")
    }

    @Test func toolArgumentsFromTheModelAreStringsOrWholeNumbers() {
        #expect(AgentLoop.stringArguments(#"{"unit":"a.service","hours":24,"x":{"y":1},"z":1.5}"#) == ["unit": "a.service", "hours": "24"])
        #expect(AgentLoop.stringArguments("not json").isEmpty)
    }
}
