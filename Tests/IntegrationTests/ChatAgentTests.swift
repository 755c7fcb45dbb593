import Autonomy
import Chat
import Foundation
import ModelSupervisor
import MonitoringService
import Store
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// Chat with the sysadmin through the whole daemon: the official openai client → the gateway → the daemon's
    /// agent socket → the meta model (the real tiny model, or a steered one where the test needs a model that
    /// reliably proposes an action) with the host's tools (systemd is a stand-in manager on a private bus) and the
    /// executor. `ai-sysadmin ask` and `chat` take the same socket.
    @Suite struct ChatAgentTests {
        struct Daemon {
            var config: DaemonConfiguration
            var process: Process
            var systemd: FakeSystemd
            var model: (process: Process, lines: LineCollector)?
            var store: SQLiteStore

            var gateway: String { "http://127.0.0.1:\(config.api.port)/v1" }

            func end() {
                TestEnvironment.end(process)
                systemd.terminate()
                if let model { TestEnvironment.end(model.process) }
            }

            struct Message: Decodable, Equatable {
                var role: String
                var content: String?
            }

            /// The messages of every chat request the steered model received, in order.
            var chatRequests: [[Message]] {
                (model?.lines.all ?? []).compactMap { line in
                    guard let range = line.range(of: #"^chat \d+: "#, options: .regularExpression) else { return nil }
                    return try? JSONDecoder().decode([Message].self, from: Data(line[range.upperBound...].utf8))
                }
            }

            var log: String { (try? String(contentsOfFile: config.stateDirectory + "/daemon.log", encoding: .utf8)) ?? "" }
        }

        /// The daemon with only the meta layer, the gateway it supervises, app.service failed in systemd.
        private func start(_ level: AutonomyLevel, steered: [String]? = nil, brokenModel: String? = nil, operatorKey: String? = nil,
                           clientKeys: [String] = [], label: String) async throws -> Daemon {
            var config = try TestEnvironment.configuration(layers: [.meta], label: label)
            if !clientKeys.isEmpty {
                config.api.requireAuth = true
                config.api.apiKeyFile = config.stateDirectory + "/client-keys"
                try (clientKeys.joined(separator: "\n") + "\n").write(toFile: config.api.apiKeyFile!, atomically: true, encoding: .utf8)
            }
            if let operatorKey {
                config.api.operatorKeyFile = config.stateDirectory + "/operator-keys"
                try "# operators\n\(operatorKey)\n".write(toFile: config.api.operatorKeyFile!, atomically: true, encoding: .utf8)
            }
            config.models.meta.contextSize = 4096
            config.chat.maxAnswerTokens = 64
            config.chat.maxToolSteps = 2
            config.monitoring.enable = false
            config.api.supervised = true
            config.api.port = freePort()
            config.autonomyLevel = level
            let systemd = try await FakeSystemd.start(in: config.stateDirectory, simulated: ["app.service": "failed"])
            config.autonomy.systemdBusAddress = systemd.address
            var model: (Process, LineCollector)?
            if steered != nil || brokenModel != nil {
                let port = freePort()
                model = try await TestEnvironment.startHelper(brokenModel == nil ? "steered-review-model.py" : "broken-upstream.py",
                                                              ["\(port)"] + (steered ?? [brokenModel!]))
                config.models.meta.backend = .remote
                config.models.meta.url = "http://127.0.0.1:\(port)"
            }
            let process = try TestEnvironment.launchDaemon(config)
            let daemon = Daemon(config: config, process: process, systemd: systemd, model: model, store: try SQLiteStore(path: config.storePath))
            let client = ControlClient(stateDirectory: config.stateDirectory)
            // The models' readiness (READY=1) does not wait for the gateway child: wait for it too, or the first
            // request can find its port not yet listening.
            let ready = await eventually(timeout: .seconds(120)) {
                let status = try? client.status()
                return status?.allReady == true && status?.gateway?.state == .ready
                    && FileManager.default.fileExists(atPath: config.agentSocketPath)
            }
            if !ready { daemon.end() }
            try #require(ready, "the daemon did not get Ready:\n\(daemon.log.suffix(3000))")
            return daemon
        }

        struct Check: Decodable {
            struct Reply: Decodable {
                struct Usage: Decodable { var prompt_tokens: Int; var completion_tokens: Int; var total_tokens: Int }
                var content: String?
                var reasoning: String?
                var finish_reason: String?
                var events: [[String]]?
                var usage: Usage?
                var error: String?
                var status: Int?
                var code: String?
            }
            var models: [String]
            var replies: [Reply]
        }

        private func converse(_ daemon: Daemon, _ requests: [[String: Any]], key: String = "unused") async throws -> Check {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: requests), as: UTF8.self)
            return try await TestEnvironment.pythonCheck("openai-agent-check.py", [daemon.gateway, key, "ai-sysadmin", json], as: Check.self)
        }

        @Test func theAgentAnswersThroughTheGatewayWithItsStepsStreamedAheadOfTheAnswer() async throws {
            let daemon = try await start(.observe, label: "chat-tiny")
            defer { daemon.end() }
            let question: [String: Any] = ["role": "user", "content": "Is app.service healthy?"]
            let check = try await converse(daemon, [
                ["messages": [question], "stream": false],
                ["messages": [question], "stream": true],
                ["messages": [question, ["role": "assistant", "content": "It failed at 03:12 after an OOM kill."],
                              ["role": "user", "content": "What should I check next?"]], "stream": true],
                ["messages": [["role": "tool", "content": "42", "tool_call_id": "x"], question], "stream": true],
            ])
            #expect(check.models == ["ai-sysadmin", "ai-sysadmin-meta"])
            let lookedUp = "unit_status unit=app.service → app.service is failed"

            let plain = check.replies[0]
            #expect(plain.error == nil, "\(plain.error ?? "")")
            #expect(plain.reasoning?.contains(lookedUp) == true, "\(plain.reasoning ?? "")")
            #expect(plain.reasoning?.contains("journal unit=app.service") == true)
            #expect(plain.content?.isEmpty == false)

            let streamed = check.replies[1]
            let events = streamed.events ?? []
            let firstStep = events.firstIndex { $0.first == "reasoning" }
            let firstText = events.firstIndex { $0.first == "content" }
            #expect(streamed.reasoning?.contains(lookedUp) == true, "\(events)")
            // The look-ups arrive as they happen, before the first token of the answer.
            #expect(firstStep != nil && firstText != nil && firstStep! < firstText!, "\(events)")
            #expect(streamed.content?.isEmpty == false)

            #expect(check.replies[2].error == nil && check.replies[2].content?.isEmpty == false, "\(check.replies[2])")
            #expect(check.replies[3].status == 400 && check.replies[3].error?.contains("has role 'tool'") == true, "\(check.replies[3])")
            // At observe nothing the tiny model may have proposed is queued, let alone run.
            #expect(try daemon.store.proposals(in: [.queued, .approved, .executing, .succeeded], limit: 10).isEmpty)
            #expect(daemon.systemd.calls.isEmpty)
        }

        /// A client that leaves while the model is still silent (reading a long prompt, here: never answering)
        /// stops the agent, and with it the agent's request to the model.
        @Test func aClientLeavingWhileTheModelIsSilentStopsTheAgentsRequest() async throws {
            let daemon = try await start(.observe, brokenModel: "stall-chat", label: "chat-leave")
            defer { daemon.end() }
            let lines = try #require(daemon.model?.lines)
            let body = Data(#"{"model":"ai-sysadmin","stream":true,"messages":[{"role":"user","content":"How is the disk?"}]}"#.utf8)
            let client = Task {
                let response = try await UpstreamHTTPClient.shared.stream(UpstreamClient.HTTPRequest(
                    method: .post, url: daemon.gateway + "/chat/completions", headers: [("Content-Type", "application/json")], body: body))
                for try await _ in response.body {}
            }
            try #require(await eventually(timeout: .seconds(20)) { lines.all.contains("request /v1/chat/completions") },
                         "the agent did not ask the model: \(lines.all)\n\(daemon.log.suffix(2000))")
            client.cancel()
            _ = await client.result
            #expect(await eventually(timeout: .seconds(5)) { lines.all.contains("closed /v1/chat/completions") },
                    "the agent's request to the model outlived the client: \(lines.all)")
            // A client leaving is not a failure of the agent's.
            #expect(await eventually(timeout: .seconds(5)) { daemon.log.contains("the chat client left before the reply ended") })
            #expect(!daemon.log.contains("chat reply failed"), "\(daemon.log.suffix(1500))")
        }

        /// One id follows a request through both processes: the gateway's `X-Request-Id` is on the agent's log line.
        @Test func theGatewaysRequestIdReachesTheAgentsLog() async throws {
            let daemon = try await start(.observe, steered: [], label: "chat-request-id")
            defer { daemon.end() }
            let response = try await UpstreamHTTPClient.shared.execute(UpstreamClient.HTTPRequest(
                method: .post, url: daemon.gateway + "/chat/completions", headers: [("Content-Type", "application/json")],
                body: Data(#"{"model":"ai-sysadmin","messages":[{"role":"user","content":"How is the disk?"}]}"#.utf8)))
            #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
            let id = try #require(response.header("X-Request-Id"))
            #expect(await eventually(timeout: .seconds(5)) {
                daemon.log.split(separator: "\n").contains { $0.contains("chat request") && $0.contains("ai.request.id=\(id)") }
            }, "no agent log line carries \(id):\n\(daemon.log.suffix(2000))")
        }

        /// A model with native tool calls proposes the restart the operator asked for; at `suggest` it is queued,
        /// and the reply names the approval id the ledger gave it. The whole history reached the model.
        @Test func aRequestedChangeAtSuggestIsQueuedAndTheReplyNamesTheApproval() async throws {
            let daemon = try await start(.suggest, steered: ["--native-tools"], label: "chat-suggest")
            defer { daemon.end() }
            let ask = #"Please restart it: {"type":"restart_unit","parameters":{"unit":"app.service"}}"#
            let check = try await converse(daemon, [[
                "messages": [["role": "user", "content": "Why is app.service failing?"],
                             ["role": "assistant", "content": "Its journal shows an OOM kill."],
                             ["role": "user", "content": ask]],
                "stream": true,
            ]])
            let reply = try #require(check.replies.first)
            #expect(reply.error == nil, "\(reply.error ?? "")")
            let queued = try daemon.store.proposals(in: [.queued], limit: 10)
            let proposal = try #require(queued.first, "nothing was queued:\n\(daemon.log.suffix(2000))")
            #expect(queued.count == 1 && proposal.source == "chat (unauthenticated client)" && proposal.type == "restart_unit" && proposal.parameters == ["unit": "app.service"])
            #expect(proposal.rationale.contains("asked in chat"))
            let content = reply.content ?? ""
            #expect(content.contains("#\(proposal.id) restart_unit unit=app.service: queued for approval"), "\(content)")
            #expect(content.contains("ai-sysadmin approvals approve \(proposal.id)"), "\(content)")
            #expect(reply.reasoning?.contains("propose_action → #\(proposal.id)") == true, "\(reply.reasoning ?? "")")
            #expect(daemon.systemd.calls.isEmpty, "a queued action ran")

            // The prompt the daemon built: persona and context first, then the conversation as the operator sent it.
            let first = try #require(daemon.chatRequests.first)
            let system = try #require(first.first)
            #expect(system.role == "system")
            #expect(system.content?.hasPrefix("You are ai-sysadmin") == true)
            #expect(system.content?.contains("What happened on this host recently:") == true)
            #expect(system.content?.contains("unit_status unit=app.service:\napp.service is failed") == true, "\(system.content ?? "")")
            #expect(Array(first.dropFirst()) == [.init(role: "user", content: "Why is app.service failing?"),
                                                 .init(role: "assistant", content: "Its journal shows an OOM kill."), .init(role: "user", content: ask)])
        }

        /// At `auto-safe` a low-risk change the operator asks for runs; the reply waits for it and says it was
        /// executed and verified, from the ledger.
        @Test func aLowRiskChangeAtAutoSafeRunsAndTheReplySaysSo() async throws {
            let daemon = try await start(.autoSafe, steered: [], operatorKey: "op-autosafe", label: "chat-autosafe")
            defer { daemon.end() }
            let ask = #"clear the failed state {"type":"reset_failed","parameters":{"unit":"app.service"}}"#
            let check = try await converse(daemon, [["messages": [["role": "user", "content": ask]], "stream": false]], key: "op-autosafe")
            let reply = try #require(check.replies.first)
            #expect(reply.error == nil, "\(reply.error ?? "")")
            let record = try #require(try daemon.store.proposals(in: nil, limit: 10).first)
            #expect(record.state == .succeeded && record.source == "chat (operator)", "\(record)")
            #expect(daemon.systemd.calls == ["ResetFailedUnit app.service"])
            #expect(reply.content?.contains("#\(record.id) reset_failed unit=app.service: executed and verified.") == true, "\(reply.content ?? "")")
            #expect(reply.reasoning?.contains("running #\(record.id) reset_failed") == true, "\(reply.reasoning ?? "")")
        }

        /// At `auto-full` a restart asked for in chat runs only when an operator asked: with an operator key it is
        /// executed; without one — any local user can reach the gateway on loopback when it needs no keys — it waits
        /// for approval, and the reply says why. A header the client sends cannot make it an operator.
        @Test func onlyAnOperatorsChatRunsAChangeWithoutApproval() async throws {
            let daemon = try await start(.autoFull, steered: [], operatorKey: "op-7f3a9c", label: "chat-operator")
            defer { daemon.end() }
            let ask = #"restart it {"type":"restart_unit","parameters":{"unit":"app.service"}}"#
            let operatorCheck = try await converse(daemon, [["messages": [["role": "user", "content": ask]], "stream": false]], key: "op-7f3a9c")
            let ran = try #require(try daemon.store.proposals(in: nil, limit: 10).first)
            #expect(ran.state == .succeeded && ran.source == "chat (operator)", "\(ran)")
            #expect(daemon.systemd.calls == ["RestartUnit app.service replace"])
            #expect(operatorCheck.replies.first?.content?.contains("#\(ran.id) restart_unit unit=app.service: executed and verified.") == true,
                    "\(operatorCheck.replies)")

            // Anyone else: a wrong key, and a client claiming to be an operator in the header the gateway sets.
            let forged = try JSONSerialization.data(withJSONObject: ["model": "ai-sysadmin", "messages": [["role": "user", "content": "again " + ask]]])
            let response = try await UpstreamHTTPClient.shared.execute(UpstreamClient.HTTPRequest(
                method: .post, url: daemon.gateway + "/chat/completions",
                headers: [("Content-Type", "application/json"), ("X-AI-Sysadmin-Requester", "operator")], body: forged))
            let forgedReply = String(decoding: response.body, as: UTF8.self)
            #expect(response.status == 200 && forgedReply.contains("queued for approval (risk medium): asked for by a chat client that is not authenticated as an operator"),
                    "\(forgedReply)")
            let anonymous = try await converse(daemon, [["messages": [["role": "user", "content": "once more " + ask]], "stream": true]])
            let queued = try daemon.store.proposals(in: [.queued], limit: 10)
            #expect(queued.count == 1 && queued.first?.source == "chat (unauthenticated client)", "\(queued)")
            let waiting = try #require(queued.first)
            #expect(waiting.reason?.contains("not authenticated as an operator") == true, "\(waiting.reason ?? "")")
            let blocked = try daemon.store.proposals(in: [.blocked], limit: 10)
            #expect(blocked.count == 1 && blocked.first?.reason?.contains("already queued as proposal \(waiting.id)") == true, "\(blocked)")
            #expect(daemon.systemd.calls == ["RestartUnit app.service replace"], "an unauthenticated chat ran an action")
            #expect(anonymous.replies.first?.content?.contains("blocked: the same action is already queued as proposal \(waiting.id)") == true,
                    "\(anonymous.replies)")
        }

        /// A client's `max_tokens` bounds the reply; a reply that runs into it ends with `finish_reason: "length"`,
        /// streamed or not, and says it was cut off.
        @Test func aReplyCutAtTheClientsLimitSaysSo() async throws {
            let daemon = try await start(.observe, steered: [], label: "chat-limit")
            defer { daemon.end() }
            let question: [String: Any] = ["role": "user", "content": "How is the disk?"]
            let check = try await converse(daemon, [
                ["messages": [question], "stream": true, "max_tokens": 2],
                ["messages": [question], "stream": false, "max_tokens": 2],
                ["messages": [question], "stream": true],
            ])
            for reply in check.replies.prefix(2) {
                #expect(reply.finish_reason == "length", "\(reply)")
                #expect(reply.content?.hasPrefix("Steered answer.\n\n(The reply was cut off at its limit of 2 tokens.)") == true, "\(reply)")
            }
            #expect(check.replies[2].finish_reason == "stop" && check.replies[2].content == "Steered answer. Nothing to report.", "\(check.replies[2])")
        }

        /// At `observe` the same request is only recorded, and the reply says nothing was queued; `ask` and the
        /// `chat` REPL take the same path, and the REPL sends its history with every question.
        @Test func atObserveNothingIsQueuedAndTheCommandLineSaysSo() async throws {
            let daemon = try await start(.observe, steered: [], label: "chat-observe")
            defer { daemon.end() }
            let executable = try TestEnvironment.daemonExecutable()
            let configFile = daemon.config.stateDirectory + "/config.json"
            let ask = #"restart app.service {"type":"restart_unit","parameters":{"unit":"app.service"}}"#
            let asked = try TestEnvironment.runToCompletion(executable, ["ask", "--config", configFile, ask])
            #expect(asked.status == 0, "\(asked.stderr)")
            #expect(asked.stdout.contains("recorded only; nothing was queued or run, because the autonomy level is observe"), "\(asked.stdout)")
            #expect(asked.stderr.contains("unit_status unit=app.service"), "the steps go to stderr: \(asked.stderr)")
            let records = try daemon.store.proposals(in: nil, limit: 10)
            #expect(records.count == 1 && records.first?.state == .recorded && records.first?.source == "chat (operator)",
                    "the agent socket is an operator's: \(records)")
            #expect(daemon.systemd.calls.isEmpty)

            // The REPL: two questions, then /exit; the second request carries the first exchange.
            let input = daemon.config.stateDirectory + "/chat-input"
            try "Is app.service up?\nAnd why?\n/exit\n".write(toFile: input, atomically: true, encoding: .utf8)
            let output = daemon.config.stateDirectory + "/chat-output"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let repl = Process()
            repl.executableURL = URL(fileURLWithPath: executable)
            repl.arguments = ["chat", "--config", configFile]
            repl.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
            repl.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            repl.standardError = FileHandle.nullDevice
            try repl.run()
            let exited = await eventually(timeout: .seconds(60)) { !repl.isRunning }
            if !exited { TestEnvironment.end(repl) }
            try #require(exited && repl.terminationStatus == 0, "chat did not finish cleanly")
            let last = try #require(daemon.chatRequests.last)
            let turns = Array(last.dropFirst())
            #expect(turns.count == 3 && turns[0] == .init(role: "user", content: "Is app.service up?") && turns[1].role == "assistant"
                        && turns[2] == .init(role: "user", content: "And why?"), "\(turns)")
            #expect(turns.count == 3 && turns[1].content?.hasPrefix("Steered answer.") == true)
            let printed = try String(contentsOfFile: output, encoding: .utf8)
            #expect(printed.components(separatedBy: "Steered answer.").count == 3, "\(printed)")
        }
    }
}

extension IntegrationTests.ChatAgentTests {
    /// A fleet's client host: its meta model is the central host's gateway (requireAuth, the tiny model behind it), named
    /// by the gateway's model id and reached with a client key given by `--meta-key-file`. The per-boot key of the
    /// host's own servers (`--model-key-file`) never goes to the remote server, even where the central host would
    /// take it.
    @Test func aClientHostsAgentThinksWithTheCentralHostsMetaModel() async throws {
        let central = try await start(.observe, clientKeys: ["sk-fleet-web1", "sk-boot-key-of-web1"], label: "central")
        defer { central.end() }
        var config = try TestEnvironment.configuration(layers: [.meta], label: "client")
        config.models.meta.backend = .remote
        config.models.meta.url = "http://127.0.0.1:\(central.config.api.port)"
        config.models.meta.alias = central.config.api.modelId
        config.chat.maxAnswerTokens = 32
        config.chat.maxToolSteps = 1
        config.monitoring.enable = false
        let fleetKey = config.stateDirectory + "/fleet-key", bootKey = config.stateDirectory + "/model-key"
        try "sk-fleet-web1\n".write(toFile: fleetKey, atomically: true, encoding: .utf8)
        try "sk-boot-key-of-web1\n".write(toFile: bootKey, atomically: true, encoding: .utf8)
        let executable = try TestEnvironment.daemonExecutable()
        let configFile = config.stateDirectory + "/config.json"

        func ask(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            let process = try TestEnvironment.launchDaemon(config, arguments: arguments)
            defer { TestEnvironment.end(process) }
            let client = ControlClient(stateDirectory: config.stateDirectory)
            let ready = await eventually(timeout: .seconds(60)) {
                (try? client.status())?.allReady == true && FileManager.default.fileExists(atPath: config.agentSocketPath)
            }
            let log = (try? String(contentsOfFile: config.stateDirectory + "/daemon.log", encoding: .utf8)) ?? ""
            try #require(ready, "the client host did not get Ready:\n\(log.suffix(3000))")
            return try TestEnvironment.runToCompletion(executable, ["ask", "--config", configFile, "Is app.service healthy?"])
        }

        // What the client host's daemon asks first: the central model's /props, behind the keys, without its file path.
        let propsURL = "http://127.0.0.1:\(central.config.api.port)/props"
        let unauthorized = try TestEnvironment.runToCompletion("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", propsURL])
        #expect(unauthorized.stdout == "401")
        let props = try TestEnvironment.runToCompletion("/usr/bin/curl", ["-s", "-H", "Authorization: Bearer sk-fleet-web1", propsURL])
        #expect(props.stdout.contains(#""n_ctx":4096"#) && !props.stdout.contains("model_path") && !props.stdout.contains(".gguf"), "\(props.stdout)")

        let answered = try await ask(["--model-key-file", bootKey, "--meta-key-file", fleetKey])
        #expect(answered.status == 0 && !answered.stdout.isEmpty, "\(answered.stderr.suffix(2000))")

        let keyless = try await ask(["--model-key-file", bootKey])
        #expect(keyless.status != 0, "the per-boot key reached the remote server: \(keyless.stdout)")
        #expect(keyless.stdout.contains("401") || keyless.stderr.contains("401"), "\(keyless.stderr.suffix(2000))")

        // The client host's own gateway, as its systemd unit runs it: the meta model's key is the central one given by
        // --meta-key-file; the per-boot key (--model-key-file) is for a meta model of this host's, never a remote one.
        func gatewayAnswers(_ arguments: [String]) async throws -> String {
            let port = freePort()
            let gateway = Process()
            gateway.executableURL = URL(fileURLWithPath: (executable as NSString).deletingLastPathComponent + "/ai-sysadmin-api")
            gateway.arguments = ["--config", configFile, "--port", "\(port)"] + arguments
            gateway.standardOutput = FileHandle.nullDevice
            gateway.standardError = FileHandle.nullDevice
            try gateway.run()
            defer { TestEnvironment.end(gateway) }
            let curl = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60"]
            let up = await eventually(timeout: .seconds(20)) {
                (try? TestEnvironment.runToCompletion("/usr/bin/curl", curl + ["http://127.0.0.1:\(port)/health"]))?.stdout == "200"
            }
            try #require(up, "the client host's gateway did not start")
            let body = #"{"model":"ai-sysadmin-meta","max_tokens":4,"messages":[{"role":"user","content":"Say ok."}]}"#
            return try TestEnvironment.runToCompletion("/usr/bin/curl", curl + [
                "-H", "Content-Type: application/json", "-d", body, "http://127.0.0.1:\(port)/v1/chat/completions",
            ]).stdout
        }
        #expect(try await gatewayAnswers(["--model-key-file", bootKey, "--meta-key-file", fleetKey]) == "200")
        #expect(try await gatewayAnswers(["--model-key-file", bootKey]) != "200", "the per-boot key reached the remote server")
    }

    /// The agent in this process, its meta model the steered one (printing each request), with one slot.
    private func steeredAgent(label: String) async throws -> (ChatAgent, ModelSlots, Process, LineCollector) {
        var config = try TestEnvironment.configuration(layers: [.meta], label: label)
        let port = freePort()
        let (model, lines) = try await TestEnvironment.startHelper("steered-review-model.py", ["\(port)"])
        config.models.meta.backend = .remote
        config.models.meta.url = "http://127.0.0.1:\(port)"
        let store = try SQLiteStore(path: config.storePath)
        let slots = ModelSlots(capacity: 1)
        let agent = ChatAgent(configuration: config, store: store, toolbox: HostToolbox(store: store, systemd: nil), slots: slots,
                              logger: TestEnvironment.logger, propose: { _, _, _ in nil })
        return (agent, slots, model, lines)
    }

    /// What Open WebUI sends with its defaults, against the tiny model: its built-in tools and `tool_choice` auto are
    /// accepted (the agent answers with its own look-ups), usage is reported (streamed when asked for), a field that
    /// would change the answer's shape is refused with the agent's own code, and a background task prompt is answered
    /// by the model alone, without look-ups.
    @Test func theAgentSpeaksTheAPIOpenWebUISendsByDefault() async throws {
        let daemon = try await start(.observe, label: "chat-api")
        defer { daemon.end() }
        let question: [String: Any] = ["role": "user", "content": "Is app.service healthy?"]
        let tools: [[String: Any]] = [["type": "function", "function": ["name": "get_current_timestamp", "description": "the time",
                                                                        "parameters": ["type": "object", "properties": [String: Any]()]]]]
        let task = "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history.\n<chat_history>\nUSER: Is app.service healthy?\n</chat_history>"
        let check = try await converse(daemon, [
            ["messages": [question], "stream": false, "extra": ["tools": tools, "tool_choice": "auto"]],
            ["messages": [question], "stream": true, "extra": ["tools": tools, "stream_options": ["include_usage": true]]],
            ["messages": [question], "stream": false, "extra": ["response_format": ["type": "json_object"]]],
            ["messages": [question], "stream": false, "extra": ["tool_choice": ["type": "function", "function": ["name": "get_current_timestamp"]]]],
            ["messages": [["role": "user", "content": task]], "stream": false],
        ])
        let plain = check.replies[0], streamed = check.replies[1]
        #expect(plain.error == nil && plain.reasoning?.contains("unit_status unit=app.service") == true, "\(plain)")
        #expect((plain.usage?.total_tokens ?? 0) > 0 && (plain.usage?.prompt_tokens ?? 0) > 0, "no usage: \(plain)")
        #expect(plain.usage.map { $0.total_tokens == $0.prompt_tokens + $0.completion_tokens } == true)
        #expect(streamed.error == nil && (streamed.usage?.completion_tokens ?? 0) > 0, "no usage chunk: \(streamed)")
        #expect(check.replies[2].status == 400 && check.replies[2].code == "invalid_request"
                && check.replies[2].error?.contains("cannot honour 'response_format'") == true, "\(check.replies[2])")
        #expect(check.replies[3].status == 400 && check.replies[3].error?.contains("names the client's function 'get_current_timestamp'") == true,
                "\(check.replies[3])")
        let title = check.replies[4]
        #expect(title.error == nil && title.content?.isEmpty == false && title.reasoning?.isEmpty == true, "a task prompt looked things up: \(title)")
        #expect((title.usage?.total_tokens ?? 0) > 0)
    }

    /// A chat client's background task waits for the meta model's slot behind an interactive question that came
    /// after it: the visible reply is not delayed by titles and tags.
    @Test func aClientsBackgroundTaskWaitsBehindInteractiveChat() async throws {
        let (agent, slots, model, lines) = try await steeredAgent(label: "chat-task")
        defer { TestEnvironment.end(model) }
        let props = try await agent.metaModelProps()

        await slots.acquire(.interactive)
        var title = Conversation(turns: [.user("### Task:\nGenerate a concise title for the chat history.")])
        title.isClientTask = true
        let background = Task { try await agent.respond(to: title, props: props, requester: .unauthenticatedClient) { _ in } }
        try #require(await eventually(timeout: .seconds(10)) { await slots.queued == 1 })
        let chat = Task {
            try await agent.respond(to: Conversation(turns: [.user("How is the disk?")]), props: props, requester: .authenticatedOperator) { _ in }
        }
        try #require(await eventually(timeout: .seconds(10)) { await slots.queued == 2 })
        await slots.release()
        try await chat.value
        try await background.value
        let asked = {
            lines.all.compactMap { line -> String? in line.hasPrefix("chat ") ? "chat" : line.hasPrefix("task ") ? "task" : nil }
        }
        // The model's output is read as it comes: its last line may arrive after the answer did.
        _ = await eventually(timeout: .seconds(5)) { asked().contains("task") }
        #expect(asked().first == "chat" && asked().last == "task", "\(asked())")
    }

    /// The agent asks the meta model through the daemon's slots at interactive priority: with the only slot
    /// busy and an analysis step already waiting, the freed slot goes to the chat first.
    @Test func chatGetsTheMetaModelsSlotBeforeAWaitingAnalysis() async throws {
        let (agent, slots, model, lines) = try await steeredAgent(label: "chat-slots")
        defer { TestEnvironment.end(model) }
        let props = try await agent.metaModelProps()

        await slots.acquire(.periodic)
        let order = LineCollector()
        let analysis = Task {
            await slots.withSlot(.escalation) {
                // Whatever got the slot first has reached the model by now; its output may still be on its way here (a
                // chat that did not get the slot first cannot reach the model while this holds it, so waiting is safe).
                let chatFirst = await eventually(timeout: .seconds(3)) { lines.all.contains { $0.hasPrefix("chat ") } }
                order.append(chatFirst ? "analysis after chat" : "analysis first")
            }
        }
        try #require(await eventually(timeout: .seconds(10)) { await slots.queued == 1 })
        let chat = Task {
            try await agent.respond(to: Conversation(turns: [.user("How is the disk?")]), props: props, requester: .authenticatedOperator) { _ in }
        }
        try #require(await eventually(timeout: .seconds(10)) { await slots.queued == 2 })
        #expect(!lines.all.contains { $0.hasPrefix("chat ") }, "the chat reached the model without a slot")
        await slots.release()
        try await chat.value
        await analysis.value
        #expect(order.all == ["analysis after chat"])
    }
}
