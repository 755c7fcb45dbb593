import Foundation
import ModelSupervisor
import Store
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// The operator's two other doors, through the whole daemon and the gateway it supervises: the console driven in
    /// headless Chromium, and MCP driven by the official Python MCP client over the gateway's `/mcp` and over
    /// `ai-sysadmin mcp`'s stdio. Systemd is a stand-in manager on a private bus; the review and meta models are the
    /// steered test model, so log lines decide what is proposed.
    @Suite struct OperatorDoorsTests {
        static let clientKey = "sk-console-client-5d1e"
        static let operatorKey = "sk-console-operator-93af"

        struct Daemon {
            var config: DaemonConfiguration
            var process: Process
            var systemd: FakeSystemd
            var model: Process
            var brokenMeta: (process: Process, lines: LineCollector)?
            var store: SQLiteStore

            var base: String { "http://127.0.0.1:\(config.api.port)" }
            var log: String { (try? String(contentsOfFile: config.stateDirectory + "/daemon.log", encoding: .utf8)) ?? "" }

            func write(_ lines: [String]) throws {
                try TestEnvironment.appendLogLines(lines, to: config.monitoring.files[0])
            }

            func end() {
                TestEnvironment.end(process)
                systemd.terminate()
                TestEnvironment.end(model)
                if let brokenMeta { TestEnvironment.end(brokenMeta.process) }
            }
        }

        /// The daemon with the steered models (or, for the meta model, a broken one in `brokenMeta` mode), systemd's
        /// stand-in with app.service failed, the gateway it supervises, and keys unless `keys` is false.
        private func start(_ level: AutonomyLevel, console: Bool, mcp: Bool, keys: Bool = true, corsOrigins: [String] = [],
                           brokenMeta: String? = nil, label: String) async throws -> Daemon {
            var config = try TestEnvironment.configuration(layers: [.review, .meta], label: label)
            let port = freePort()
            let (model, _) = try await TestEnvironment.startHelper("steered-review-model.py", ["\(port)"])
            for layer in [ModelLayer.review, .meta] {
                config.models[layer].backend = .remote
                config.models[layer].url = "http://127.0.0.1:\(port)"
            }
            var broken: (Process, LineCollector)?
            if let brokenMeta {
                let brokenPort = freePort()
                broken = try await TestEnvironment.startHelper("broken-upstream.py", ["\(brokenPort)", brokenMeta])
                config.models.meta.url = "http://127.0.0.1:\(brokenPort)"
            }
            let systemd = try await FakeSystemd.start(in: config.stateDirectory, simulated: ["app.service": "failed"])
            config.autonomy.systemdBusAddress = systemd.address
            config.autonomyLevel = level
            let watched = config.stateDirectory + "/app.log"
            _ = FileManager.default.createFile(atPath: watched, contents: nil)
            config.monitoring.files = [watched]
            config.monitoring.flushSeconds = 0.2
            config.monitoring.metrics.intervalSeconds = 1
            config.monitoring.rules = [
                .init(pattern: "\\{\"type\"", severity: "error", category: "service", escalate: true, summary: "the app reports a problem"),
                .init(pattern: "ERROR", severity: "error", category: "service", escalate: false, summary: "the app logged an error"),
            ]
            config.monitoring.review.escalationDelaySeconds = 0.3
            config.chat.maxToolSteps = 1
            config.api.supervised = true
            config.api.port = freePort()
            config.api.corsOrigins = corsOrigins
            if keys {
                config.api.requireAuth = true
                config.api.apiKeyFile = config.stateDirectory + "/client-keys"
                config.api.operatorKeyFile = config.stateDirectory + "/operator-keys"
                try "\(Self.clientKey)\n".write(toFile: config.api.apiKeyFile!, atomically: true, encoding: .utf8)
                try "\(Self.operatorKey)\n".write(toFile: config.api.operatorKeyFile!, atomically: true, encoding: .utf8)
            }
            config.console.enable = console
            config.mcp.enable = mcp
            let process = try TestEnvironment.launchDaemon(config)
            let daemon = Daemon(config: config, process: process, systemd: systemd, model: model, brokenMeta: broken,
                                store: try SQLiteStore(path: config.storePath))
            let client = ControlClient(stateDirectory: config.stateDirectory)
            let ready = await eventually(timeout: .seconds(120)) {
                let status = try? client.status()
                return status?.allReady == true && status?.gateway?.state == .ready && FileManager.default.fileExists(atPath: config.agentSocketPath)
            }
            if !ready { daemon.end() }
            try #require(ready, "the daemon did not get Ready:\n\(daemon.log.suffix(3000))")
            return daemon
        }

        /// Where a test keeps what a person would want to look at afterwards (the console's screenshot).
        static var artifactDirectory: String {
            let directory = ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_ARTIFACTS"] ?? TestEnvironment.repositoryRoot + "/.build/test-artifacts"
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return directory
        }

        struct BrowserCheck: Decodable {
            struct Cookie: Decodable { var httpOnly: Bool; var sameSite: String?; var path: String }
            var login_shown_first: Bool
            var wrong_key_error: String
            var client_decide_note: Bool
            var client_approve_disabled: Bool
            var live: Bool
            var operator_decide_note: Bool
            var cookie_visible_to_scripts: Bool
            var cookie: Cookie
            var planted_line_shown_as_text: Bool
            var review_markup_shown_as_text: Bool
            var analysis_markup_shown_as_text: Bool
            var rationale_markup_shown_as_text: Bool
            var xss_ran: String?
            var img_elements_in_data: Int
            var script_elements: Int
            var live_event: Bool
            var same_document: Bool
            var forged_status: Int
            var outcome: String
            var card_gone: Bool
            var audit_text: String
            var screenshot: Bool
            var console_errors: [String]
        }

        @Test func anOperatorApprovesFromTheConsoleAndPlantedMarkupStaysText() async throws {
            let daemon = try await start(.suggest, console: true, mcp: false, label: "console")
            defer { daemon.end() }
            // A line that plants markup, escalates (the steered review) and carries a proposal (the steered analysis);
            // what the models write about it — the review, the analysis, the proposal's reason — carries markup too.
            try daemon.write([#"MARKUP ESCALATE <img src=x onerror="window.__xss='log'"><script>window.__xss='log'</script> "#
                + #"{"type":"restart_unit","parameters":{"unit":"app.service"}}"#])
            var queued: ProposalRecord?
            let proposed = await eventually(timeout: .seconds(120)) {
                queued = try? daemon.store.proposals(in: [.queued], limit: 10).first
                return queued != nil && ((try? daemon.store.reviews(limit: 1)) ?? []).isEmpty == false
                    && ((try? daemon.store.analyses(limit: 1)) ?? []).isEmpty == false
            }
            try #require(proposed, "no review, analysis and queued proposal:\n\(daemon.log.suffix(3000))")
            let proposal = try #require(queued)

            let screenshot = Self.artifactDirectory + "/console.png"
            try? FileManager.default.removeItem(atPath: screenshot)
            let seen = try await TestEnvironment.pythonCheck(
                "console-browser-check.py",
                [daemon.base, Self.clientKey, Self.operatorKey, daemon.config.monitoring.files[0], "\(proposal.id)", screenshot],
                as: BrowserCheck.self, timeout: .seconds(300))

            #expect(seen.login_shown_first)
            #expect(seen.wrong_key_error.contains("not one of the gateway's keys"), "\(seen.wrong_key_error)")
            #expect(seen.client_decide_note && seen.client_approve_disabled, "a client key must not be offered decisions")
            #expect(seen.live && !seen.operator_decide_note)
            #expect(!seen.cookie_visible_to_scripts && seen.cookie.httpOnly && seen.cookie.sameSite == "Strict" && seen.cookie.path == "/console",
                    "\(seen.cookie)")
            #expect(seen.planted_line_shown_as_text && seen.review_markup_shown_as_text)
            #expect(seen.analysis_markup_shown_as_text && seen.rationale_markup_shown_as_text)
            #expect(seen.xss_ran == nil, "planted script ran: \(seen.xss_ran ?? "")")
            #expect(seen.img_elements_in_data == 0)
            #expect(seen.script_elements == 1, "only the console's own script")
            #expect(seen.live_event && seen.same_document, "a new event must arrive over the stream, without a reload")
            #expect(seen.forged_status == 403, "a decision without the console's header was answered \(seen.forged_status)")
            #expect(seen.outcome == "approved" && seen.card_gone)
            #expect(seen.audit_text.contains("operator:console"), "\(seen.audit_text)")
            #expect(seen.screenshot && FileManager.default.fileExists(atPath: screenshot))
            #expect(seen.console_errors.isEmpty, "\(seen.console_errors)")

            // The approval took the same path as the command line's: the executor ran it against systemd.
            let ran = await eventually(timeout: .seconds(60)) { (try? daemon.store.proposal(proposal.id))?.state == .succeeded }
            #expect(ran, "proposal \(proposal.id) is \(String(describing: try? daemon.store.proposal(proposal.id)?.state))")
            #expect(daemon.systemd.calls.contains("RestartUnit app.service replace"), "\(daemon.systemd.calls)")
            let trail = try daemon.store.audit(after: 0, since: nil, unit: nil, limit: 100).filter { $0.proposalID == proposal.id }
            #expect(trail.contains { $0.event == "approved" && $0.actor == "operator:console (key 1)" && $0.detail.contains("approved in the browser test") },
                    "\(trail.map { ($0.event, $0.actor, $0.detail) })")
        }

        /// Without keys the doors are loopback's: a page whose own name was rebound to 127.0.0.1 (it still sends that
        /// name) gets nothing, and no origin the API allows may read them.
        @Test func withoutKeysTheDoorsAnswerOnlyLoopbackNamesAndNoOtherOrigin() async throws {
            let daemon = try await start(.suggest, console: true, mcp: true, keys: false, corsOrigins: ["*"], label: "doors-local")
            defer { daemon.end() }
            func get(_ path: String, host: String? = nil, origin: String? = nil) async throws -> UpstreamClient.HTTPResponse {
                var headers: [(name: String, value: String)] = []
                if let host { headers.append(("Host", host)) }
                if let origin { headers.append(("Origin", origin)) }
                return try await UpstreamHTTPClient.shared.execute(UpstreamClient.HTTPRequest(url: daemon.base + path, headers: headers))
            }
            for path in ["/", "/console/api/state"] {
                #expect(try await get(path).status == 200, "\(path) for 127.0.0.1")
                #expect(try await get(path, host: "localhost:\(daemon.config.api.port)").status == 200)
                let rebound = try await get(path, host: "attacker.example:\(daemon.config.api.port)")
                #expect(rebound.status == 421, "\(path) for a rebound name: \(rebound.status)")
                #expect(!String(decoding: rebound.body, as: UTF8.self).contains("\"snapshot\""))
            }
            let fromAnotherOrigin = try await get("/console/api/state", origin: "http://openwebui.example")
            #expect(fromAnotherOrigin.status == 200 && fromAnotherOrigin.header("Access-Control-Allow-Origin") == nil,
                    "the console's data must not be readable by another origin")
            // The API itself still answers the origins it allows.
            #expect(try await get("/v1/models", origin: "http://openwebui.example").header("Access-Control-Allow-Origin") == "http://openwebui.example")
        }

        /// An MCP client that gives up on `ask` (closes its connection) stops the agent's request to the meta model:
        /// the slot comes free instead of answering nobody.
        @Test func anMCPClientLeavingStopsTheAgentsRequest() async throws {
            let daemon = try await start(.suggest, console: false, mcp: true, brokenMeta: "stall-chat", label: "mcp-leave")
            defer { daemon.end() }
            let lines = try #require(daemon.brokenMeta?.lines)
            let call = Data(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ask","arguments":{"question":"How is the disk?"}}}"#.utf8)
            let client = Task {
                try await UpstreamHTTPClient.shared.execute(UpstreamClient.HTTPRequest(
                    method: .post, url: daemon.base + "/mcp",
                    headers: [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream"),
                              ("Authorization", "Bearer \(Self.clientKey)")],
                    body: call))
            }
            try #require(await eventually(timeout: .seconds(20)) { lines.all.contains("request /v1/chat/completions") },
                         "the agent did not ask the model: \(lines.all)\n\(daemon.log.suffix(2000))")
            client.cancel()
            _ = await client.result
            #expect(await eventually(timeout: .seconds(10)) { lines.all.contains("closed /v1/chat/completions") },
                    "the agent's request to the model outlived the MCP client: \(lines.all)")
        }

        struct MCPCheck: Decodable {
            struct Call: Decodable { var error: Bool; var text: String; var refused: Bool }
            var error: String?
            var server: String?
            var tools: [String]?
            var propose_description: String?
            var resources: [String]?
            var status: String?
            var disk: Call?
            var unknown_argument: Call?
            var bad_unit: Call?
            var restart: Call?
            var reboot: Call?
            var unknown_tool: Call?
            var collect_garbage: Call?
            var long_reason: Call?
            var ask: Call?
        }

        @Test func anMCPClientLooksUpAndProposesButNeverApprovesEvenAtAutoFull() async throws {
            let daemon = try await start(.autoFull, console: false, mcp: true, label: "mcp")
            defer { daemon.end() }
            let endpoint = daemon.base + "/mcp"

            let refused = try await TestEnvironment.pythonCheck("mcp-client-check.py", ["http", endpoint, "-"], as: MCPCheck.self)
            #expect(refused.error?.contains("401") == true, "without a key: \(String(describing: refused.error))")

            let http = try await TestEnvironment.pythonCheck("mcp-client-check.py", ["http", endpoint, Self.clientKey], as: MCPCheck.self)
            #expect(http.error == nil, "\(http.error ?? "")")
            #expect(http.server == "ai-sysadmin")
            #expect(Set(http.tools ?? []) == ["journal", "unit_status", "metric_history", "processes", "disk_usage", "knowledge_search",
                                              "past_analyses", "pending_approvals", "ask", "propose_action"])
            #expect(http.resources?.count == 7)
            let status = try JSONDecoder().decode(SupervisorStatus.self, from: Data((http.status ?? "").utf8))
            #expect(status.models.contains { $0.layer == .meta && $0.state == .ready })
            #expect(http.disk?.error == false && http.disk?.text.contains("% used") == true, "\(String(describing: http.disk))")
            // What the server cannot make sense of is a protocol error; a look-up that refuses its argument is a failed call.
            #expect(http.unknown_argument?.refused == true && http.unknown_argument?.text.contains("unknown argument 'command'") == true,
                    "\(String(describing: http.unknown_argument))")
            #expect(http.unknown_tool?.refused == true && http.unknown_tool?.text.contains("unknown tool 'shell'") == true)
            #expect(http.long_reason?.refused == true && http.long_reason?.text.contains("longer than 500 bytes") == true,
                    "\(String(describing: http.long_reason))")
            #expect(http.bad_unit?.error == true && http.bad_unit?.refused == false, "\(String(describing: http.bad_unit))")
            // Every type the description names is one the executor knows.
            let description = http.propose_description ?? ""
            for type in ["restart_unit", "reset_failed", "vacuum_journal", "collect_garbage", "kill_process", "nixos_rebuild"] {
                #expect(description.contains(type), "\(type) is missing from: \(description)")
            }
            #expect(!description.contains("reset_failed_unit") && !description.contains("nix_gc"))
            #expect(http.collect_garbage?.text.contains("is not an action type") == false, "\(String(describing: http.collect_garbage))")
            #expect(http.restart?.text.contains("queued for an operator's approval") == true, "\(String(describing: http.restart))")
            #expect(http.reboot?.text.contains("rejected") == true, "\(String(describing: http.reboot))")
            // The agent itself, asked over MCP: the change it proposes is an MCP client's, and the ledger says its fate.
            #expect(http.ask?.error == false && http.ask?.text.contains("Actions (from the executor's ledger)") == true,
                    "\(String(describing: http.ask))")

            // Over stdio: the same server through `ai-sysadmin mcp`.
            let stdio = try await TestEnvironment.pythonCheck(
                "mcp-client-check.py", ["stdio", try TestEnvironment.daemonExecutable(), daemon.config.stateDirectory + "/config.json"],
                as: MCPCheck.self)
            #expect(stdio.error == nil && stdio.tools == http.tools && stdio.resources == http.resources)
            #expect(stdio.restart?.text.contains("already queued") == true, "\(String(describing: stdio.restart))")

            // At auto-full an operator's restart of app.service would run; an MCP client's waits.
            let fromMCP = try daemon.store.proposals(in: nil, limit: 20).filter { $0.source == "mcp" }
            #expect(fromMCP.contains { $0.type == "restart_unit" && $0.state == .queued }, "\(fromMCP.map { ($0.type, $0.state) })")
            #expect(!fromMCP.contains { [.approved, .executing, .succeeded].contains($0.state) })
            #expect(!daemon.systemd.calls.contains { $0.hasPrefix("RestartUnit") }, "\(daemon.systemd.calls)")
        }
    }
}
