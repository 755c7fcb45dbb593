import Autonomy
import Chat
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MCP
import Monitoring
import MonitoringService
import OpenAIServer
import Reasoning
import Store
import Synchronization
import UpstreamClient

/// The sysadmin as an MCP server, for the operator's own agents (Claude Desktop or Code, editors, other assistants):
/// on the daemon's socket at `POST /mcp` (stateless streamable HTTP, one JSON answer per request), which the gateway
/// forwards behind its keys and `ai-sysadmin mcp` relays from stdio.
///
/// - Resources: status, recent context, events, reviews, analyses, pending approvals, metric history.
/// - Tools: the agent's read-only look-ups (their arguments checked as when the model calls them), `ask` (the agent
///   itself) and `propose_action`, which goes through the executor's validator, policy and ledger like every other
///   proposal and answers with its fate. What an MCP client proposes waits for an operator at every autonomy level
///   (``Requester/delegatedAgent``): MCP never approves.
///
/// Each request gets a server of its own: nothing is kept between requests, so clients cannot see or disturb one
/// another's sessions, and a restarted daemon loses none. A request is cancelled by closing its connection (the
/// stateless transport has no other channel back to a running call).
public struct HostMCPServer: Sendable {
    let agent: ChatAgent
    let chatEnabled: Bool
    let source: ConsoleSnapshotSource
    let store: any MonitoringStore
    let propose: @Sendable (ProposedAction, String) async -> ProposalRecord?
    let version: String
    let logger: Logger

    public init(agent: ChatAgent, chatEnabled: Bool, source: ConsoleSnapshotSource, store: any MonitoringStore, version: String,
                logger: Logger, propose: @escaping @Sendable (ProposedAction, String) async -> ProposalRecord?) {
        self.agent = agent
        self.chatEnabled = chatEnabled
        self.source = source
        self.store = store
        self.propose = propose
        self.version = version
        self.logger = logger
    }

    /// The largest request body.
    static let bodyLimit = 256 * 1024

    public func add(to router: Router<BasicRequestContext>) {
        router.post("/mcp") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: Self.bodyLimit)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            // Hummingbird keeps Host as the authority, so the SDK's Host check does not run here: the host a client named
            // is the gateway's to judge (OperatorDoors), and on this socket it is always the gateway's or the relay's.
            var logger = self.logger
            if let id = RequestIDHeader.id(in: request.headers) { logger[metadataKey: "ai.request.id"] = "\(id)" }
            let scope = CancellationScope()
            let mcpRequest = MCP.HTTPRequest(method: "POST", headers: headers, body: Data(body.readableBytesView), path: "/mcp")
            let response = try await request.body.consumeWithInboundCloseHandler { _ in
                await handle(mcpRequest, scope: scope, logger: logger)
            } onInboundClosed: {
                scope.cancel()
            }
            // Watching for the connection closing ends it with the answer; said, so that no client reuses it.
            var fields: HTTPFields = [.connection: "close"]
            for (name, value) in response.headers {
                if let name = HTTPField.Name(name) { fields[name] = value }
            }
            return Response(status: .init(code: response.statusCode), headers: fields,
                            body: .init(byteBuffer: ByteBuffer(bytes: response.bodyData ?? Data())))
        }
    }

    /// Answers one HTTP request of the streamable-HTTP transport; the tools it calls stop when `scope` is cancelled.
    public func handle(_ request: MCP.HTTPRequest, scope: CancellationScope = CancellationScope(), logger: Logger? = nil) async -> MCP.HTTPResponse {
        let logger = logger ?? self.logger
        let server = await makeServer(scope: scope, logger: logger)
        let transport = StatelessHTTPServerTransport(logger: logger)
        do {
            try await server.start(transport: transport)
        } catch {
            return .error(statusCode: 500, .internalError("the MCP server did not start: \(error)"))
        }
        let response = await transport.handleRequest(request)
        await server.stop()
        return response
    }

    func makeServer(scope: CancellationScope, logger: Logger) async -> Server {
        let server = Server(
            name: "ai-sysadmin", version: version, title: "ai-sysadmin on \(source.hostname)",
            instructions: """
                The system administrator of \(source.hostname): what it noticed (events, reviews, analyses), its look-ups \
                (journal, unit status, metrics, processes, disk, knowledge), `ask` for the agent itself, and \
                `propose_action` for a change, which waits for an operator's approval.
                """,
            capabilities: .init(resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        let tools = tools(logger: logger)
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: tools.map(\.tool)) }
        await server.withMethodHandler(CallTool.self) { parameters in
            // A call the server cannot make sense of is the protocol's error; a tool that fails says so as its result.
            guard let tool = tools.first(where: { $0.tool.name == parameters.name }) else {
                throw MCPError.invalidParams("unknown tool '\(LogText.clean(parameters.name, limit: 64))'; tools/list names them")
            }
            let arguments: [String: String]
            switch Self.strings(parameters.arguments ?? [:], limits: tool.limits) {
            case .failure(let problem): throw MCPError.invalidParams(problem.message)
            case .success(let checked): arguments = checked
            }
            for required in tool.required where (arguments[required] ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                throw MCPError.invalidParams("'\(required)' is required")
            }
            let answer: String
            do {
                answer = try await scope.run { try await tool.run(arguments) }
            } catch let failure as ToolFailure {
                return CallTool.Result(content: [.text(text: failure.message, annotations: nil, _meta: nil)], isError: true)
            }
            // The look-ups answer a refused argument in words beginning "error:", as the model reads them.
            return CallTool.Result(content: [.text(text: answer, annotations: nil, _meta: nil)], isError: answer.hasPrefix("error:") ? true : nil)
        }
        await server.withMethodHandler(ListResources.self) { _ in ListResources.Result(resources: Self.resources) }
        await server.withMethodHandler(ReadResource.self) { [self] parameters in
            guard let resource = Self.resources.first(where: { $0.uri == parameters.uri }) else {
                throw MCPError.invalidParams("no resource '\(LogText.clean(parameters.uri, limit: 100))'; resources/list names them")
            }
            return ReadResource.Result(contents: [.text(try await read(resource.uri), uri: resource.uri, mimeType: resource.mimeType)])
        }
        return server
    }

    // MARK: Tools

    /// A tool and what runs it. Every argument arrives as a string (``strings(_:limits:)``); the look-ups check their
    /// values as when the model calls them.
    struct HostTool: Sendable {
        var tool: Tool
        /// The arguments it takes, each with its longest length in bytes.
        var limits: [String: Int]
        var required: [String] = []
        var run: @Sendable ([String: String]) async throws -> String
    }

    /// A tool that could not do what it was asked, told to the client as the call's result.
    struct ToolFailure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    static func schema(_ arguments: [String: (description: String, limit: Int)], required: [String] = []) -> Value {
        .object([
            "type": "object",
            "properties": .object(arguments.mapValues { argument in
                Value.object(["type": "string", "description": .string(argument.description), "maxLength": .int(argument.limit)])
            }),
            "required": .array(required.map { .string($0) }),
            "additionalProperties": false,
        ])
    }

    /// The longest look-up argument: a unit name, a metric, a search.
    static let lookUpArgumentLimit = 200
    /// The longest question for `ask`.
    static let questionLimit = 4000
    /// A proposal's bounds: as the review's action schema allows.
    static let proposal = (typeLimit: 40, parameterCount: 3, parameterLimit: 96, reasonLimit: 500)

    func tools(logger: Logger) -> [HostTool] {
        let agent = self.agent
        var tools = ChatAgent.lookupTools.map { described in
            HostTool(tool: Tool(name: described.name, description: described.description,
                                inputSchema: Self.schema(described.arguments.mapValues { ($0, Self.lookUpArgumentLimit) }),
                                annotations: .init(readOnlyHint: true, openWorldHint: false)),
                     limits: described.arguments.mapValues { _ in Self.lookUpArgumentLimit },
                     run: { await agent.lookUp(described.name, arguments: $0) })
        }
        if chatEnabled {
            tools.append(HostTool(
                tool: Tool(name: "ask", description: "ask the sysadmin itself: it looks things up on this host and answers; a change it "
                               + "proposes waits for an operator's approval",
                           inputSchema: Self.schema(["question": ("the question, in plain words", Self.questionLimit)], required: ["question"]),
                           // It may queue a proposal (and notify the operators): not read-only.
                           annotations: .init(readOnlyHint: false, destructiveHint: false, openWorldHint: false)),
                limits: ["question": Self.questionLimit], required: ["question"],
                run: { arguments in
                    do {
                        return try await agent.reply(toQuestion: arguments["question"] ?? "", requester: .delegatedAgent, logger: logger)
                    } catch let unavailable as ChatAgent.Unavailable {
                        throw ToolFailure(unavailable.message)
                    }
                }))
        }
        let propose = self.propose
        tools.append(HostTool(
            tool: Tool(name: "propose_action", description: Self.proposeDescription, inputSchema: Self.proposeSchema,
                       annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false)),
            limits: ["type": Self.proposal.typeLimit, "parameters": Self.proposal.parameterCount * (Self.proposal.parameterLimit + 32),
                     "reason": Self.proposal.reasonLimit],
            required: ["type", "reason"],
            run: { arguments in
                var parameters: [String: String] = [:]
                if let encoded = arguments["parameters"] {
                    guard let decoded = try? JSONDecoder().decode([String: String].self, from: Data(encoded.utf8)),
                          decoded.count <= Self.proposal.parameterCount,
                          decoded.allSatisfy({ $0.key.utf8.count <= 32 && $0.value.utf8.count <= Self.proposal.parameterLimit }) else {
                        throw ToolFailure("'parameters' must be an object of at most \(Self.proposal.parameterCount) strings of at most "
                                          + "\(Self.proposal.parameterLimit) bytes")
                    }
                    parameters = decoded
                }
                // The strings go to the executor as they came: it validates the originals and rejects, never repairs.
                guard let record = await propose(ProposedAction(type: arguments["type"] ?? "", parameters: parameters),
                                                 "proposed over MCP: \(LogText.clean(arguments["reason"] ?? "", limit: Self.proposal.reasonLimit))") else {
                    throw ToolFailure("the ledger could not record the proposal; the daemon's log says why")
                }
                return Self.fate(record)
            }))
        return tools
    }

    /// The action types and their parameters, read from the review's action schema: one list the executor knows.
    static let proposeDescription: String = {
        var lines: [String] = []
        if case .object(let root) = Review.actionItemSchema, case .array(let items)? = root["anyOf"] {
            for case .object(let item) in items {
                guard case .object(let properties)? = item["properties"], case .object(let type)? = properties["type"],
                      case .array(let names)? = type["enum"], case .object(let parameters)? = properties["parameters"],
                      case .object(let fields)? = parameters["properties"] else { continue }
                var required: Set<String> = []
                if case .array(let list)? = parameters["required"] { for case .string(let name) in list { required.insert(name) } }
                let typeNames = names.compactMap { if case .string(let name) = $0 { name } else { nil } }
                let fieldNames = fields.keys.sorted().map { required.contains($0) ? $0 : "\($0) (optional)" }
                lines.append("- \(typeNames.joined(separator: ", ")): " + (fieldNames.isEmpty ? "no parameters" : fieldNames.joined(separator: ", ")))
            }
        }
        return "propose a change to the host. The executor validates it; it waits for an operator's approval at every autonomy level "
            + "(MCP never approves), and the answer is the ledger's fate. Types and their parameters:\n" + lines.joined(separator: "\n")
    }()

    static let proposeSchema: Value = .object([
        "type": "object",
        "properties": .object([
            "type": .object(["type": "string", "enum": .array(Review.actionTypes.map { .string($0) })]),
            "parameters": .object(["type": "object", "description": "the type's parameters, each a string",
                                   "maxProperties": .int(proposal.parameterCount),
                                   "additionalProperties": .object(["type": "string", "maxLength": .int(proposal.parameterLimit)])]),
            "reason": .object(["type": "string", "description": "why, for the operator who decides", "maxLength": .int(proposal.reasonLimit)]),
        ]),
        "required": ["type", "reason"],
        "additionalProperties": false,
    ])

    /// What the ledger made of a proposal, as the client is told.
    static func fate(_ record: ProposalRecord) -> String {
        let reason = record.reason.map { ": \($0)" } ?? ""
        switch record.state {
        case .queued:
            return "proposal \(record.id) is queued for an operator's approval\(reason). Risk \(record.risk ?? "unknown"); would run: "
                + "\(record.action ?? "-"); expected effect: \(record.expectedEffect); rollback: \(record.rollback). An operator decides with "
                + "`ai-sysadmin approvals approve \(record.id)` or in the console."
        default:
            return "proposal \(record.id) is \(record.state.rawValue)\(reason)"
        }
    }

    struct ArgumentProblem: Error { let message: String }

    /// The arguments as the tools take them: only names the tool knows, strings (or whole numbers; an object only for
    /// `parameters`, kept as its JSON), each within its limit.
    static func strings(_ arguments: [String: Value], limits: [String: Int]) -> Result<[String: String], ArgumentProblem> {
        var strings: [String: String] = [:]
        for (name, value) in arguments {
            guard let limit = limits[name] else {
                let known = limits.isEmpty ? "it takes none" : "it takes " + limits.keys.sorted().joined(separator: ", ")
                return .failure(ArgumentProblem(message: "unknown argument '\(LogText.clean(name, limit: 64))'; \(known)"))
            }
            let text: String
            switch value {
            case .string(let string): text = string
            case .int(let number): text = String(number)
            case .object(let object) where name == "parameters":
                var parameters: [String: String] = [:]
                for (key, value) in object {
                    guard let string = value.stringValue ?? value.intValue.map(String.init) else {
                        return .failure(ArgumentProblem(message: "parameter '\(LogText.clean(key, limit: 64))' must be a string"))
                    }
                    parameters[key] = string
                }
                text = String(decoding: (try? JSONEncoder().encode(parameters)) ?? Data("{}".utf8), as: UTF8.self)
            default:
                return .failure(ArgumentProblem(message: "'\(LogText.clean(name, limit: 64))' must be a string"))
            }
            guard text.utf8.count <= limit else { return .failure(ArgumentProblem(message: "'\(name)' is longer than \(limit) bytes")) }
            strings[name] = text
        }
        return .success(strings)
    }

    // MARK: Resources

    static let resources: [Resource] = [
        Resource(name: "status", uri: "ai-sysadmin://status", description: "each model server's state and Layer 1's backlog, as `ai-sysadmin status`",
                 mimeType: "application/json"),
        Resource(name: "context", uri: "ai-sysadmin://context", description: "the host's recent context as the agent reads it (24 hours)",
                 mimeType: "text/plain"),
        Resource(name: "events", uri: "ai-sysadmin://events", description: "the latest events Layer 1 emitted, newest first",
                 mimeType: "application/json"),
        Resource(name: "reviews", uri: "ai-sysadmin://reviews", description: "the latest reviews of the host", mimeType: "application/json"),
        Resource(name: "analyses", uri: "ai-sysadmin://analyses", description: "the latest analyses with their steps", mimeType: "application/json"),
        Resource(name: "approvals", uri: "ai-sysadmin://approvals", description: "proposed actions waiting for an operator",
                 mimeType: "application/json"),
        Resource(name: "metrics", uri: "ai-sysadmin://metrics", description: "metric history (6 hours) with the thresholds",
                 mimeType: "application/json"),
    ]

    func read(_ uri: String) async throws -> String {
        func json(_ value: some Encodable) throws -> String { String(decoding: try ConsoleSnapshot.encoder.encode(value), as: UTF8.self) }
        switch uri {
        case "ai-sysadmin://status": return try json(source.status())
        case "ai-sysadmin://context":
            return await RecentContext.render(store, since: Date().addingTimeInterval(-24 * 3600), budget: 4000, count: Conversation.estimatedTokens)
        case "ai-sysadmin://events": return try json(try store.latestEvents(limit: 100))
        case "ai-sysadmin://reviews":
            return try json(try store.reviews(limit: 10).map { ConsoleSnapshot.LastReview(time: $0.time, review: $0.review) })
        case "ai-sysadmin://analyses": return try json(try store.analyses(limit: 10))
        case "ai-sysadmin://approvals": return try json(try source.store.proposals(in: [.queued], limit: 100))
        case "ai-sysadmin://metrics": return try json(try source.metrics(since: Date().addingTimeInterval(-ConsoleSnapshot.historyWindow)))
        default: throw MCPError.invalidParams("no resource '\(LogText.clean(uri, limit: 100))'")
        }
    }
}

/// The work of one MCP request. The SDK runs each call in a task of its own that nothing outside reaches, so the
/// calls' work runs here, where closing the request's connection cancels it: a dropped `ask` gives the meta model's
/// slot back instead of answering nobody.
public final class CancellationScope: Sendable {
    private let state = Mutex<(cancelled: Bool, tasks: [Task<String, any Error>])>((false, []))

    public init() {}

    func run(_ work: @escaping @Sendable () async throws -> String) async throws -> String {
        let task = Task { try await work() }
        let cancelled = state.withLock { state in
            state.tasks.append(task)
            return state.cancelled
        }
        if cancelled { task.cancel() }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }

    public func cancel() {
        let tasks = state.withLock { state in
            state.cancelled = true
            return state.tasks
        }
        for task in tasks { task.cancel() }
    }
}
