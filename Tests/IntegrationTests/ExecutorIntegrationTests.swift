import ActionService
import Autonomy
import Foundation
import Logging
import Notifications
import Store
import SysadminConfiguration
import Systemd
import TestSupport
import Testing

extension IntegrationTests {
    /// The executor against systemd's D-Bus interface. PID 1 is not systemd here, so a private dbus-daemon
    /// carries the real calls to a stand-in manager (Tests/Support/fake-systemd-manager.py); everything else —
    /// sd-bus, the store, the policy, the audit file — is the real thing.
    @Suite struct ExecutorIntegrationTests {
        private func executor(_ systemd: FakeSystemd, timeout: Duration = .seconds(10)) -> ActionExecutor {
            ActionExecutor(systemd: SdBusSystemdManager(busAddress: systemd.address), validator: ActionValidator(), timeout: timeout,
                           pollInterval: .milliseconds(50))
        }

        @Test func unitActionsAreDBusCallsWhoseEffectIsVerified() async throws {
            let systemd = try await FakeSystemd.start(
                in: try TestEnvironment.temporaryDirectory("units"),
                simulated: ["app.service": "active", "broken.service": "active", "old.service": "failed", "idle.service": "inactive"],
                broken: ["broken.service"])
            defer { systemd.terminate() }
            let executor = executor(systemd)
            let manager = SdBusSystemdManager(busAddress: systemd.address)
            #expect(try await manager.failedUnits() == ["old.service"])

            let restart = await executor.execute(.restartUnit("app.service"))
            #expect(restart.succeeded && restart.summary == "done; app.service is active", "\(restart)")
            #expect(restart.calls == [#"dbus org.freedesktop.systemd1.Manager.RestartUnit("app.service", "replace")"#])

            let broken = await executor.execute(.restartUnit("broken.service"))
            #expect(!broken.succeeded)
            #expect(broken.summary.contains("broken.service is failed, expected active"), "\(broken.summary)")

            #expect(await executor.execute(.stopUnit("app.service")).succeeded)
            #expect(await executor.execute(.resetFailed("old.service")).succeeded)
            #expect(try await manager.failedUnits() == ["broken.service"], "the broken unit failed to restart; old.service was reset")
            let reload = await executor.execute(.reloadUnit("idle.service"))
            #expect(!reload.succeeded && reload.summary.contains("Unit idle.service is not active"), "\(reload.summary)")
            #expect(systemd.calls == ["RestartUnit app.service replace", "RestartUnit broken.service replace", "StopUnit app.service replace",
                                      "ResetFailedUnit old.service", "ReloadUnit idle.service replace"])
        }

        /// The daemon's executor service over a fresh store, running, with its run loop polling every 50 ms.
        private func startCoordinator(_ config: DaemonConfiguration, _ systemd: FakeSystemd) throws
            -> (SQLiteStore, ActionCoordinator, Task<Void, any Error>)
        {
            let store = try SQLiteStore(path: config.storePath)
            let coordinator = ActionCoordinator(configuration: config, ledger: store, systemd: SdBusSystemdManager(busAddress: systemd.address),
                                                notifier: nil, logger: TestEnvironment.logger, pollInterval: .milliseconds(50))
            return (store, coordinator, Task { try await coordinator.run() })
        }

        /// What a model completely steered by hostile log lines could propose.
        static let hostileProposals: [ProposedAction] = [
            ProposedAction(type: "stop_unit", parameters: ["unit": "sshd.service"]),
            ProposedAction(type: "restart_unit", parameters: ["unit": "nginx.service; rm -rf /"]),
            ProposedAction(type: "restart_unit", parameters: ["unit": "../../etc/passwd"]),
            ProposedAction(type: "restart_unit", parameters: ["unit": "$(reboot).service"]),
            ProposedAction(type: "restart_unit", parameters: ["unit": "app.service", "extra": "; reboot"]),
            ProposedAction(type: "run_shell", parameters: ["command": "rm -rf /"]),
            ProposedAction(type: "investigate", parameters: ["command": "rm -rf /"]),
            ProposedAction(type: "kill_process", parameters: ["pid": "1"]),
            ProposedAction(type: "restart_unit", parameters: ["unit": "ai-sysadmin-api.service"]),
        ]

        /// The valid proposals: one of each risk class.
        static let validProposals: [ProposedAction] = [
            ProposedAction(type: "reset_failed", parameters: ["unit": "app.service"]),
            ProposedAction(type: "restart_unit", parameters: ["unit": "app.service"]),
            ProposedAction(type: "stop_unit", parameters: ["unit": "app.service"]),
        ]

        /// Per level: the calls systemd receives and the states of the low, medium and high proposals.
        static let expectations: [(AutonomyLevel, calls: [String], states: [ProposalState])] = [
            (.observe, [], [.recorded, .recorded, .recorded]),
            (.suggest, [], [.queued, .queued, .queued]),
            (.autoSafe, ["ResetFailedUnit app.service"], [.succeeded, .queued, .queued]),
            (.autoFull, ["ResetFailedUnit app.service", "RestartUnit app.service replace"], [.succeeded, .succeeded, .queued]),
        ]

        /// Every case of the hostile corpus (targets, sockets, slices, scopes, mounts, protected services with every
        /// verb, their instances, units whose neighbours are protected, a vacuum below the floor) with the valid
        /// proposals, at each level: systemd hears only the valid ones the level allows, every refusal is recorded with
        /// its reason, and what needs a person waits for one.
        @Test(arguments: expectations.indices)
        func atEachLevelOnlyWhatThePolicyAllowsReachesSystemd(_ index: Int) async throws {
            let (level, expectedCalls, expectedStates) = Self.expectations[index]
            var config = DaemonConfiguration()
            config.stateDirectory = try TestEnvironment.temporaryDirectory("level-\(level.rawValue)")
            config.autonomyLevel = level
            config.autonomy.protectedUnits = ["macha-ai.service"]
            let systemd = try await FakeSystemd.start(in: config.stateDirectory, simulated: HostileProposals.simulatedUnits,
                                                      relations: HostileProposals.relations, properties: HostileProposals.properties)
            defer { systemd.terminate() }
            let (store, coordinator, running) = try startCoordinator(config, systemd)
            defer { running.cancel() }

            let corpus = HostileProposals.judgedByName + HostileProposals.judgedByImpact
            var corpusRecords: [(HostileProposals.Case, ProposalRecord)] = []
            for hostile in corpus {
                let record = try #require(await coordinator.submit(ProposedAction(type: hostile.type, parameters: hostile.parameters),
                                                                   rationale: "the logs said so", source: "review 1"))
                corpusRecords.append((hostile, record))
            }
            var ids: [Int64] = []
            for proposal in Self.hostileProposals + Self.validProposals {
                ids.append(try #require(await coordinator.submit(proposal, rationale: "the logs said so", source: "review 1")).id)
            }
            let settled = await eventually(timeout: .seconds(30)) {
                (try? store.proposals(in: [.approved, .executing], limit: 10))?.isEmpty == true && systemd.calls.count >= expectedCalls.count
            }
            #expect(settled, "proposals did not settle: \((try? store.proposals(in: nil, limit: 50)) ?? [])")

            #expect(systemd.calls == expectedCalls, "systemd was asked for more (or less) than the policy allows")
            for (hostile, record) in corpusRecords {
                switch hostile.fate {
                case .refused(let reason):
                    #expect(record.state == .rejected && record.reason?.contains(reason) == true, "\(hostile): \(record.state) \(record.reason ?? "")")
                case .needsAPerson(let reason):
                    if level == .observe {
                        #expect(record.state == .recorded, "\(hostile): \(record.state)")
                    } else {
                        #expect(record.state == .queued && record.risk == "high" && record.reason?.contains(reason) == true,
                                "\(hostile): \(record.state) \(record.risk ?? "") \(record.reason ?? "")")
                    }
                case .allowed:
                    Issue.record("the corpus has no allowed case")
                }
            }
            ids = corpusRecords.map(\.1.id) + ids
            let records = try ids.map { try #require(try store.proposal($0)) }
            for record in records.dropFirst(corpusRecords.count).prefix(Self.hostileProposals.count) {
                #expect(record.state == .rejected && record.reason?.isEmpty == false, "\(record.type) \(record.parameters): \(record.state)")
                #expect(record.action == nil && record.risk == nil, "a rejected proposal got a plan")
            }
            #expect(records.suffix(3).map(\.state) == expectedStates)

            // Audit completeness: every proposal has its proposal line, exactly one fate, and the last line is its state.
            let audit = try store.audit(after: 0, since: nil, unit: nil, limit: 10_000)
            let final = Set(ProposalState.allCases.filter(\.isFinal).map(\.rawValue))
            for record in records {
                let trail = audit.filter { $0.proposalID == record.id }.map(\.event)
                #expect(trail.first == "proposed")
                #expect(trail.last == record.state.rawValue, "\(trail)")
                #expect(trail.filter(final.contains).count == (record.state.isFinal ? 1 : 0), "\(trail)")
            }
            // And the JSON-lines copy holds the same entries, in order.
            let mirrored = await eventually(timeout: .seconds(10)) {
                ((try? String(contentsOfFile: config.auditLogPath, encoding: .utf8)) ?? "").split(separator: "\n").count == audit.count
            }
            #expect(mirrored)
            let lines = try String(contentsOfFile: config.auditLogPath, encoding: .utf8).split(separator: "\n")
            #expect(lines.map(String.init) == audit.map(AuditLine.encode))
        }

        @Test func aUnitThatKeepsFailingIsBlockedAfterItsBudgetAndAQueueExpires() async throws {
            var config = DaemonConfiguration()
            config.stateDirectory = try TestEnvironment.temporaryDirectory("budget")
            config.autonomyLevel = .autoFull
            config.autonomy.restartsPerUnitPerHour = 2
            config.autonomy.approvalExpiryHours = 0.0005 // under two seconds
            let systemd = try await FakeSystemd.start(in: config.stateDirectory, simulated: ["flaky.service": "active"], broken: ["flaky.service"])
            defer { systemd.terminate() }
            let (store, coordinator, running) = try startCoordinator(config, systemd)
            defer { running.cancel() }

            let restart = ProposedAction(type: "restart_unit", parameters: ["unit": "flaky.service"])
            for attempt in 1...2 {
                let id = try #require(await coordinator.submit(restart, rationale: "down", source: "review \(attempt)")).id
                #expect(await eventually(timeout: .seconds(20)) { (try? store.proposal(id))??.state == .failed }, "attempt \(attempt)")
            }
            let third = try #require(await coordinator.submit(restart, rationale: "down again", source: "review 3"))
            #expect(third.state == .blocked)
            #expect(third.reason?.contains("keeps failing") == true, "\(third.reason ?? "")")
            #expect(systemd.calls == ["RestartUnit flaky.service replace", "RestartUnit flaky.service replace"])

            // A high-risk proposal waits, and expires when nobody decides.
            let stop = try #require(await coordinator.submit(ProposedAction(type: "stop_unit", parameters: ["unit": "flaky.service"]),
                                                             rationale: "stop it", source: "review 4"))
            #expect(stop.state == .queued)
            #expect(await eventually(timeout: .seconds(20)) { (try? store.proposal(stop.id))??.state == .expired })
        }

        @Test func notificationsReachGotifyAndTheWebhookThroughFailuresAndRetries() async throws {
            let (receiver, lines) = try await TestEnvironment.startHelper("webhook-receiver.py", ["\(freePort())", "2"])
            defer { TestEnvironment.end(receiver) }
            let port = try #require(receiver.arguments?[1])
            let tokenFile = try TestEnvironment.temporaryDirectory("gotify") + "/token"
            try "s3cret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            var settings = NotificationConfiguration()
            settings.webhook = .init(url: "http://127.0.0.1:\(port)/hook")
            settings.gotify = .init(url: "http://127.0.0.1:\(port)/", tokenFile: tokenFile)
            settings.initialRetrySeconds = 0.05
            settings.maximumAttempts = 5
            let notifier = Notifier(configuration: settings, logger: TestEnvironment.logger)
            let running = Task { try await notifier.run() }
            defer { running.cancel() }

            notifier.notify(Notification(kind: .approvalQueued, title: "Approval needed: restart_unit (#7)", message: "nginx", proposalID: 7))
            let delivered = await eventually(timeout: .seconds(20)) {
                let ok = lines.all.filter { $0.hasPrefix("request 200 ") }
                return ok.contains { $0.hasPrefix("request 200 /hook ") } && ok.contains { $0.hasPrefix("request 200 /message s3cret-token ") }
            }
            #expect(delivered, "\(lines.all)")
            #expect(lines.all.filter { $0.hasPrefix("request 500 ") }.count == 2, "the first two deliveries failed and were retried")
            let hook = try #require(lines.all.first { $0.hasPrefix("request 200 /hook ") })
            let body = try JSONSerialization.jsonObject(with: Data(hook.split(separator: " ", maxSplits: 4)[4].utf8)) as? [String: Any]
            #expect(body?["kind"] as? String == "approval_queued" && body?["proposal_id"] as? Int == 7)
        }
    }
}
