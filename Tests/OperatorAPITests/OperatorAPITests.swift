import Foundation
import MCP
import Monitoring
import Store
import Testing
@testable import OperatorAPI

@Suite struct ConsoleSnapshotTests {
    @Test func theLast24HoursAreShownHourByHourWithoutNormalLines() {
        let end = Date(timeIntervalSince1970: 1_800_003_000) // 50 minutes into an hour
        let thisHour = Int64(end.timeIntervalSince1970 / 3600) * 3600
        let hours = ConsoleSnapshotSource.perHour([
            thisHour: [.error: 2, .normal: 7], thisHour - 3600: [.critical: 1],
            thisHour - 23 * 3600: [.warning: 1], thisHour - 24 * 3600: [.warning: 5],
        ], endingAt: end)
        #expect(hours.count == 24)
        #expect(hours.last?.hour == Date(timeIntervalSince1970: Double(thisHour)))
        #expect(hours[23].counts == ["error": 2])
        #expect(hours[22].counts == ["critical": 1])
        #expect(hours[0].counts == ["warning": 1], "the 24th hour back is in; the 25th is not")
        #expect(hours[1...21].allSatisfy { $0.counts.isEmpty })
    }
}

@Suite struct MCPArgumentTests {
    @Test func onlyKnownBoundedStringArgumentsReachATool() throws {
        let allowed = ["unit": 200, "hours": 200]
        #expect(try HostMCPServer.strings(["unit": .string("nginx.service"), "hours": .int(3)], limits: allowed).get()
                == ["unit": "nginx.service", "hours": "3"])
        for (arguments, problem) in [
            (["command": Value.string("rm -rf /")], "unknown argument 'command'"),
            (["unit": .array([.string("a")])], "'unit' must be a string"),
            (["unit": .bool(true)], "'unit' must be a string"),
            (["unit": .string(String(repeating: "a", count: 201))], "longer than 200 bytes"),
        ] as [([String: Value], String)] {
            guard case .failure(let refusal) = HostMCPServer.strings(arguments, limits: allowed) else {
                Issue.record("\(arguments) was accepted")
                continue
            }
            #expect(refusal.message.contains(problem), "\(refusal.message)")
        }
    }

    @Test func proposalParametersAreStringsOnly() throws {
        let allowed = ["type": 40, "parameters": 400, "reason": 500]
        let accepted = try HostMCPServer.strings(["type": .string("restart_unit"), "parameters": .object(["unit": .string("app.service")])],
                                                 limits: allowed).get()
        #expect(try JSONDecoder().decode([String: String].self, from: Data((accepted["parameters"] ?? "").utf8)) == ["unit": "app.service"])
        guard case .failure(let refusal) = HostMCPServer.strings(["parameters": .object(["unit": .object([:])])], limits: allowed) else {
            Issue.record("a nested object was accepted as a parameter")
            return
        }
        #expect(refusal.message.contains("parameter 'unit' must be a string"))
        let many = Value.object(Dictionary(uniqueKeysWithValues: (0..<40).map { ("p\($0)", Value.string(String(repeating: "v", count: 20))) }))
        guard case .failure = HostMCPServer.strings(["parameters": many], limits: allowed) else {
            Issue.record("parameters beyond their limit were accepted")
            return
        }
    }

    @Test func theProposalToolDescribesExactlyTheExecutorsTypes() {
        for type in ["restart_unit", "reset_failed", "vacuum_journal", "collect_garbage", "kill_process", "nixos_rebuild", "investigate"] {
            #expect(HostMCPServer.proposeDescription.contains(type), "\(type)")
        }
        #expect(HostMCPServer.proposeDescription.contains("kill_process: pid, signal (optional)"), "\(HostMCPServer.proposeDescription)")
    }
}
