import Foundation
import SysadminConfiguration
import Systemd
import TestSupport
import Testing
@testable import Autonomy

/// What automation may touch, by unit: the validator against the hostile corpus, the impact fence on hand-made
/// dependency graphs, and the polkit rule generated from the same policy, run by a JavaScript engine.
@Suite struct UnitFenceTests {
    private let validator = ActionValidator(extraProtected: ["macha-ai.service", "myapp-*.service"])

    @Test(arguments: HostileProposals.judgedByName)
    func theValidatorJudgesEveryCaseByName(_ hostile: HostileProposals.Case) throws {
        let result = validator.validate(ProposedAction(type: hostile.type, parameters: hostile.parameters))
        switch hostile.fate {
        case .refused(let reason):
            guard case .failure(let rejection) = result else {
                Issue.record("accepted: \(hostile)")
                return
            }
            #expect(rejection.reason.contains(reason), "\(hostile): \(rejection.reason)")
        case .needsAPerson(let reason):
            let action = try result.get()
            let risk = AutonomyPolicy(level: .autoFull).assess(action)
            #expect(risk.risk == .high && risk.reasons.contains { $0.contains(reason) }, "\(hostile): \(risk)")
        case .allowed:
            _ = try result.get()
        }
    }

    @Test func servicesThatAreNotProtectedPassWithEveryVerb() throws {
        for type in ["start_unit", "stop_unit", "restart_unit", "reload_unit", "reset_failed"] {
            for unit in ["nginx.service", "postgresql.service", "app@worker1.service", "sshguard.service", "my-systemd-helper.service"] {
                #expect(throws: Never.self, "\(type) \(unit)") {
                    try validator.validate(ProposedAction(type: type, parameters: ["unit": unit])).get()
                }
            }
        }
        // Configured patterns protect a whole family.
        guard case .failure(let rejection) = validator.validate(ProposedAction(type: "restart_unit", parameters: ["unit": "myapp-web.service"])) else {
            Issue.record("myapp-web.service passed although myapp-*.service is protected")
            return
        }
        #expect(rejection.reason == "myapp-web.service is protected (matches myapp-*.service): automation never starts, stops, restarts, reloads or resets it (restarting refused)")
    }

    @Test func investigatingAnyUnitTypeStaysAllowed() throws {
        #expect(try validator.validate(ProposedAction(type: "investigate", parameters: ["command": "unit_status", "unit": "reboot.target"])).get()
                == .investigate(.unitStatus("reboot.target")))
    }

    @Test func patternsMatchAsGlobs() throws {
        let cases: [(String, String, Bool)] = [
            ("sshd@*.service", "sshd@1-10.0.0.1:22-10.0.0.9:5.service", true), ("sshd@*.service", "sshd.service", false),
            ("systemd-*.service", "systemd-journald.service", true), ("systemd-*.service", "systemd-.service", true),
            ("systemd-*.service", "my-systemd-x.service", false), ("a*b*c.service", "axxbyyc.service", true),
            ("a*b*c.service", "acb.service", false), ("ab*ba.service", "aba.service", false), ("nginx.service", "nginx.service", true),
        ]
        for (pattern, name, expected) in cases {
            #expect(try #require(UnitPattern(pattern)).matches(name) == expected, "\(pattern) ~ \(name)")
        }
        #expect(UnitPattern("rm -rf *") == nil && UnitPattern("*") == nil && UnitPattern("-*.service") == nil)
        #expect(UnitPolicy.builtIn.protectedUnits.count > 40, "the embedded policy file was read")
    }

    @Test func theConfiguredFloorAndTheRequesterDecide() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let policy = AutonomyPolicy(level: .autoFull, journalFloorDays: 14, journalFloorMegabytes: 2000)
        #expect(policy.assess(.vacuumJournal(maxMegabytes: 2000, maxDays: 14)).risk == .medium)
        #expect(policy.assess(.vacuumJournal(maxMegabytes: nil, maxDays: 13)).risk == .high)
        #expect(policy.assess(.vacuumJournal(maxMegabytes: 1999, maxDays: nil)).risk == .high)
        let restart = Action.restartUnit("nginx.service")
        for level in AutonomyLevel.allCases {
            let decision = AutonomyPolicy(level: level).decide(restart, requester: .unauthenticatedClient, at: now)
            switch (level, decision) {
            case (.observe, .record): break
            case (_, .awaitApproval(let reason?)) where level != .observe:
                #expect(reason.contains("not authenticated as an operator"))
            default: Issue.record("an unauthenticated chat's restart at \(level.rawValue): \(decision)")
            }
        }
        #expect(AutonomyPolicy(level: .autoFull).decide(restart, requester: .authenticatedOperator, at: now) == .execute)
        let raised = AutonomyPolicy(level: .autoFull).assess(restart, impact: .raised(["it takes multi-user.target with it"]))
        guard case .awaitApproval(let reason?) = AutonomyPolicy(level: .autoFull).decide(restart, risk: raised, at: now) else {
            Issue.record("a raised risk ran at auto-full")
            return
        }
        #expect(reason == "risk raised to high: it takes multi-user.target with it")
    }

    // MARK: The impact fence, on graphs as the manager would describe them

    /// Explores `unit` in a hand-made graph through the same code the coordinator runs against systemd.
    private func verdict(_ verb: UnitPolicy.Verb, _ unit: String, _ graph: [String: UnitRelations]) async throws -> UnitImpact.Verdict {
        try await UnitImpact.explore(verb, unit, systemd: GraphManager(graph: graph)).verdict(validator.units)
    }

    @Test func whatRestartsWithAUnitIsJudgedLikeTheUnit() async throws {
        let graph: [String: UnitRelations] = [
            "helper.service": .init(loadState: "loaded", dependencies: ["RequiredBy": ["bridge.service"]]),
            "bridge.service": .init(loadState: "loaded", dependencies: ["BoundBy": ["sshd.service"]]),
            "sshd.service": .init(loadState: "loaded"),
            "plain.service": .init(loadState: "loaded", dependencies: ["Conflicts": ["shutdown.target"], "Wants": ["network-online.target"]]),
        ]
        #expect(try await verdict(.restart, "helper.service", graph)
                == .refused("restarting helper.service would also restart sshd.service (bridge.service requires helper.service; sshd.service is bound to bridge.service), which is protected (sshd.service)"))
        // A reset or a start does not propagate down; a start pulls nothing dangerous here.
        #expect(try await verdict(.resetFailed, "helper.service", graph) == .allowed)
        #expect(try await verdict(.start, "helper.service", graph) == .allowed)
        #expect(try await verdict(.restart, "plain.service", graph) == .allowed, "conflicting with shutdown.target is every unit's default")
    }

    @Test func aBigNeighbourhoodGoesToAPerson() async throws {
        var graph: [String: UnitRelations] = ["hub.service": .init(loadState: "loaded",
                                                                  dependencies: ["RequiredBy": (0..<70).map { "leaf\($0).service" }])]
        for index in 0..<70 { graph["leaf\(index).service"] = .init(loadState: "loaded") }
        guard case .raised(let reasons) = try await verdict(.stop, "hub.service", graph) else {
            Issue.record("70 dependents were judged automatically")
            return
        }
        #expect(reasons.contains { $0.contains("more than \(UnitImpact.limit) units") })
    }

    @Test func pullsAreFollowedThroughServicesOnly() async throws {
        let graph: [String: UnitRelations] = [
            "a.service": .init(loadState: "loaded", dependencies: ["Requires": ["b.service", "basic.target"]]),
            "b.service": .init(loadState: "loaded", dependencies: ["OnFailure": ["poweroff.target"]]),
            "basic.target": .init(loadState: "loaded", dependencies: ["Wants": ["reboot.target"]]),
        ]
        #expect(try await verdict(.start, "a.service", graph)
                == .refused("starting a.service would also start poweroff.target (a.service requires b.service; b.service starts poweroff.target when it fails), which changes the state of the whole host"))
    }

    // MARK: The polkit rule, run

    /// Every verb × every unit the corpus names, plus what must stay allowed: the rule generated from the policy
    /// says YES exactly where the validator accepts, for the daemon's user only.
    @Test func thePolkitRuleAllowsExactlyWhatTheValidatorAllows() throws {
        let units = Set(HostileProposals.judgedByName.compactMap { $0.parameters["unit"] }.filter(UnitName.isValid)
                        + ["nginx.service", "app@worker1.service", "myapp-web.service", "llama-meta.service", "llama-trigger.service",
                           "firewall.service", "nftables.service", "sshd.socket", "-.mount", "var.mount", "swap.target", "getty@tty1.service"]).sorted()
        var requests: [PolkitRequest] = []
        var expected: [String] = []
        for unit in units {
            for verb in UnitPolicy.Verb.allCases {
                requests.append(PolkitRequest(unit: unit, verb: verb.rawValue))
                let modelRestart = verb == .restart && validator.units.modelUnits.contains(unit)
                expected.append(modelRestart || (UnitName.isValid(unit) && validator.units.refusal(verb, unit) == nil) ? "YES" : "NO")
            }
            requests.append(PolkitRequest(unit: unit, verb: "kill"))
            expected.append("NO")
        }
        requests += [PolkitRequest(user: "alice", unit: "nginx.service", verb: "start"),
                     PolkitRequest(id: "org.freedesktop.login1.reboot", unit: "", verb: "")]
        expected += ["NOT_HANDLED", "NOT_HANDLED"]
        let rule = validator.units.polkitRule(user: "ai-sysadmin", executor: true)
        let answers = try runPolkitRule(rule, requests)
        for (index, request) in requests.enumerated() where answers[index] != expected[index] {
            Issue.record("\(request.verb) \(request.unit) by \(request.user): polkit says \(answers[index]), the validator \(expected[index])")
        }
        #expect(zip(requests, answers).filter { $0.0.unit == "nginx.service" && $0.1 == "YES" }.count == 5,
                "an ordinary service is allowed every verb")

        // At observe, nothing but the model units' restarts.
        let observe = try runPolkitRule(validator.units.polkitRule(user: "ai-sysadmin", executor: false), requests)
        let allowed = zip(requests, observe).filter { $0.1 == "YES" }.map { "\($0.0.verb) \($0.0.unit)" }
        #expect(allowed == ["restart llama-meta.service", "restart llama-trigger.service"])
    }

    struct PolkitRequest: Encodable {
        var id = "org.freedesktop.systemd1.manage-units"
        var user = "ai-sysadmin"
        var unit: String
        var verb: String
    }

    private func runPolkitRule(_ rule: String, _ requests: [PolkitRequest]) throws -> [String] {
        let node = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_NODE"].flatMap { $0.isEmpty ? nil : $0 },
                                "AI_SYSADMIN_TEST_NODE is not set; run the tests through scripts/test (scripts/setup installs nodejs)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("polkit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try rule.write(toFile: directory + "/50-ai-sysadmin.rules", atomically: true, encoding: .utf8)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/polkit-rule-check.js").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: node)
        process.arguments = [script, directory + "/50-ai-sysadmin.rules",
                             String(decoding: try JSONEncoder().encode(requests), as: UTF8.self)]
        let output = directory + "/out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "node could not run the rule")
        return try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: output)))
    }

    // MARK: Garbage collection keeps what a rollback needs

    @Test func garbageCollectionKeepsTheCurrentAndThePreviousGeneration() throws {
        let profiles = FileManager.default.temporaryDirectory.appendingPathComponent("profiles-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: profiles, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: profiles) }
        let now = Date()
        // Generations 1-6, each a month older than the next; the system was rolled back to 5.
        for number in 1...6 {
            let link = profiles + "/system-\(number)-link"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/nix/store/x-nixos-system-\(number)")
            var times = [timeval(tv_sec: 0, tv_usec: 0), timeval(tv_sec: 0, tv_usec: 0)]
            let age = now.addingTimeInterval(-Double(7 - number) * 30 * 86400).timeIntervalSince1970
            times[0].tv_sec = Int(age)
            times[1].tv_sec = Int(age)
            #expect(lutimes(link, &times) == 0)
        }
        try FileManager.default.createSymbolicLink(atPath: profiles + "/system", withDestinationPath: "system-5-link")
        let tools = try scriptTools(["nix-env", "nix-store"])
        let plan = try Action.collectGarbage(olderThanDays: 1).plan(tools: HostTools(directories: tools.directories, isNixOS: true,
                                                                                     systemProfile: profiles + "/system"))
        let directory = tools.directories[0]
        #expect(plan.steps == [.command(["\(directory)/nix-env", "--profile", profiles + "/system", "--delete-generations", "1", "2", "3"]),
                               .command(["\(directory)/nix-store", "--gc"])])
        #expect(plan.expectedEffect.contains("generations 4 and 5 are kept"), "\(plan.expectedEffect)")
    }

    private func scriptTools(_ names: [String]) throws -> HostTools {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tools-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in names {
            try "#!/bin/sh\nexit 0\n".write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory + "/" + name)
        }
        return HostTools(directories: [directory], isNixOS: true)
    }
}

/// A manager that answers relations from a fixed graph (unknown units are not found) and refuses everything else:
/// the impact fence's judgement, without a bus.
private struct GraphManager: SystemdManaging {
    let graph: [String: UnitRelations]

    func relations(of units: [String]) async throws -> [String: UnitRelations] {
        Dictionary(uniqueKeysWithValues: units.map { ($0, graph[$0] ?? UnitRelations(loadState: "not-found")) })
    }

    func enqueue(_ job: SystemdJob, unit: String) async throws -> String { throw SystemdError(message: "not in this test") }
    func resetFailed(_ unit: String) async throws { throw SystemdError(message: "not in this test") }
    func activeState(of unit: String) async throws -> String { throw SystemdError(message: "not in this test") }
    func failedUnits() async throws -> [String] { [] }
}
