import Autonomy
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAIServer
import ServiceLifecycle
import Synchronization
import SysadminConfiguration
import UpstreamClient

/// The agent as an OpenAI-compatible chat endpoint on a Unix socket in the state directory (mode 0660, so the
/// daemon's user and group only): the gateway forwards its agent model id here, and `ai-sysadmin ask` / `chat`
/// connect directly. Whoever connects is therefore an operator, unless the peer says otherwise: the gateway names
/// its client's standing in ``AgentRequesterHeader``, and only an operator's requests may run without approval. `POST /v1/chat/completions`, streaming or not; tool steps arrive as `reasoning_content`
/// deltas ahead of the answer's `content`.
///
/// The same socket carries the operator's other doors (the console's data, MCP) when they are on: `otherRoutes` adds
/// them, and `chat` false leaves the chat routes out.
public struct AgentServer: Service {
    let agent: ChatAgent
    let path: String
    let modelID: String
    let chat: Bool
    let otherRoutes: @Sendable (Router<BasicRequestContext>) -> Void
    let logger: Logger

    public init(agent: ChatAgent, configuration: DaemonConfiguration, logger: Logger,
                otherRoutes: @escaping @Sendable (Router<BasicRequestContext>) -> Void = { _ in }) {
        self.agent = agent
        self.path = configuration.agentSocketPath
        self.modelID = configuration.api.agentModelId ?? "ai-sysadmin"
        self.chat = configuration.chat.enable
        self.otherRoutes = otherRoutes
        self.logger = logger
    }

    public func run() async throws {
        // A socket file a crashed daemon left behind would make the bind fail.
        unlink(path)
        let path = self.path, logger = self.logger
        let application = Application(
            router: makeRouter(),
            configuration: .init(address: .unixDomainSocket(path: path), serverName: "ai-sysadmin-agent"),
            onServerRunning: { _ in
                chmod(path, 0o660)
                logger.notice("chat agent listening", metadata: ["ai.agent.path": "\(path)"])
            },
            logger: logger)
        defer { unlink(path) }
        try await application.runService()
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let agent = self.agent, modelID = self.modelID, logger = self.logger
        router.get("/health") { _, _ in JSONResponse.make(Data(#"{"status":"ok"}"#.utf8)) }
        otherRoutes(router)
        guard chat else { return router }
        router.get("/v1/models") { _, _ in
            JSONResponse.make(Data(#"{"object":"list","data":[{"id":\#(JSONResponse.quoted(modelID)),"object":"model","created":0,"owned_by":"ai-sysadmin"}]}"#.utf8))
        }
        // The gateway's requests to the raw meta model take their turn on the same slots as the daemon's chat and
        // analyses: one priority order for everything that asks the meta model, not two arbiters.
        router.post("/slots/meta") { request, _ in
            guard let slots = agent.slots else { return Response(status: .noContent) }
            let priority: RequestPriority = request.uri.queryParameters.get("priority") == "background" ? .periodic : .interactive
            await slots.acquire(priority)
            logger.debug("meta slot granted to the gateway", metadata: [
                "ai.request.id": "\(RequestIDHeader.id(in: request.headers) ?? "-")", "ai.slot.priority": "\(priority)"])
            let hold = SlotHold(slots)
            return Response(
                status: .ok, headers: [.contentType: "text/plain", .connection: "close"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "granted\n"))
                    // Held until the gateway closes the connection, at most an hour.
                    try? await request.body.consumeWithCancellationOnInboundClose { _ in
                        try await Task.sleep(for: .seconds(3600))
                    }
                    hold.release()
                    try await writer.finish(nil)
                })
        }
        router.post("/v1/chat/completions") { request, context in
            var request = request
            let body = try await request.collectBody(upTo: 4 * 1024 * 1024)
            let conversation: Conversation
            do throws(Conversation.Invalid) {
                conversation = try Conversation(requestBody: Data(body.readableBytesView))
            } catch {
                throw OpenAIError(.badRequest, error.message, type: "invalid_request_error", code: "invalid_request")
            }
            let completion = CompletionIdentity(model: modelID)
            let requester = Self.requester(request.headers)
            var logger = logger
            if let id = RequestIDHeader.id(in: request.headers) { logger[metadataKey: "ai.request.id"] = "\(id)" }
            logger.info("chat request", metadata: ["ai.chat.turns": "\(conversation.turns.count)", "ai.chat.stream": "\(conversation.stream)",
                                                   "ai.chat.requester": "\(requester)"])
            if conversation.stream {
                return try await streamed(agent, conversation, completion, requester: requester, requestBody: request.body, logger: logger)
            }
            let props = try await Self.metaModel(agent)
            let reply = ReplyCollector()
            do {
                try await agent.respond(to: conversation, props: props, requester: requester, logger: logger) { reply.add($0) }
            } catch {
                throw OpenAIError(.badGateway, "the agent could not answer: \(error)", type: "server_error", code: "agent_error")
            }
            return JSONResponse.make(completion.message(content: reply.answer, reasoning: reply.steps, finishReason: reply.cutOff ? "length" : "stop",
                                                usage: reply.usage))
        }
        return router
    }

    /// Commits to a 200 event stream once the meta model is known to answer (so an unavailable one is still a
    /// proper 503), then relays the agent's events as chunks. A client that goes away cancels the agent.
    private func streamed(_ agent: ChatAgent, _ conversation: Conversation, _ completion: CompletionIdentity, requester: Requester,
                          requestBody: RequestBody, logger: Logger) async throws -> Response {
        let props = try await Self.metaModel(agent)
        return Response(
            status: .ok,
            // The inbound-close watch below ends the connection with the stream; clients are told, so a pooling one
            // does not send its next request on it.
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .connection: "close"],
            body: ResponseBody { writer in
                let (events, continuation) = AsyncThrowingStream.makeStream(of: ChatEvent.self)
                let task = Task {
                    do {
                        try await agent.respond(to: conversation, props: props, requester: requester, logger: logger) { continuation.yield($0) }
                        continuation.finish()
                    } catch {
                        continuation.finish(throwing: error)
                    }
                }
                defer { task.cancel() }
                try await writer.write(ByteBuffer(bytes: completion.event(role: "assistant")))
                var finishReason = "stop"
                var usage = Usage(promptTokens: 0, completionTokens: 0)
                do {
                    // While the model is silent (a long prompt being read) only the connection closing tells that
                    // the client left; the agent, and its request to the model, stop then.
                    try await requestBody.consumeWithInboundCloseHandler { _ in
                        for try await event in events {
                            switch event {
                            case .step(let text): try await writer.write(ByteBuffer(bytes: completion.event(reasoning: text)))
                            case .answer(let text): try await writer.write(ByteBuffer(bytes: completion.event(content: text)))
                            case .cutOff: finishReason = "length"
                            case .usage(let cost): usage = usage + cost
                            }
                        }
                    } onInboundClosed: {
                        task.cancel()
                    }
                    try await writer.write(ByteBuffer(bytes: completion.event(finishReason: finishReason)))
                    if conversation.includeUsage { try await writer.write(ByteBuffer(bytes: completion.usageEvent(usage))) }
                    try await writer.write(ByteBuffer(bytes: Array("data: [DONE]\n\n".utf8)))
                } catch {
                    if task.isCancelled || error is CancellationError || (error as? UpstreamError)?.code == .cancelled {
                        // The client left; nothing failed and nobody is there to tell.
                        logger.info("the chat client left before the reply ended")
                        try await writer.finish(nil)
                        return
                    }
                    // The status line is long gone: the failure goes out as an error event, and the stream ends.
                    logger.warning("chat reply failed mid-stream", metadata: ["error": "\(error)"])
                    let failure = OpenAIError(.badGateway, "the agent's reply broke off: \(error)", type: "server_error", code: "agent_error")
                    try await writer.write(ByteBuffer(bytes: Array("data: ".utf8) + Array(failure.json) + Array("\n\n".utf8)))
                }
                try await writer.finish(nil)
            })
    }

    /// A peer of this socket is an operator (root or the daemon's group) unless it names another requester; a
    /// value it does not know counts as unauthenticated.
    public static func requester(_ headers: HTTPFields) -> Requester {
        switch headers[AgentRequesterHeader.name] {
        case nil, AgentRequesterHeader.authenticatedOperator?: .authenticatedOperator
        default: .unauthenticatedClient
        }
    }

    /// The meta model's properties, or the 503 that says why the agent cannot answer now.
    static func metaModel(_ agent: ChatAgent) async throws -> ServerProps {
        do {
            return try await agent.metaModelProps()
        } catch {
            throw unavailable(error.message)
        }
    }

    static func unavailable(_ message: String) -> OpenAIError {
        var error = OpenAIError(.serviceUnavailable, message, type: "server_error", code: "agent_unavailable")
        error.headers[.retryAfter] = "5"
        return error
    }
}

/// A slot the gateway holds: released once, when the gateway lets go or when the response is dropped unrun.
final class SlotHold: Sendable {
    private let slots: ModelSlots
    private let released = Mutex(false)

    init(_ slots: ModelSlots) {
        self.slots = slots
    }

    func release() {
        let first = released.withLock { released -> Bool in
            defer { released = true }
            return !released
        }
        if first { Task { [slots] in await slots.release() } }
    }

    deinit {
        release()
    }
}

/// The id, creation time and model name every chunk of one completion repeats, and the chunks themselves.
struct CompletionIdentity: Sendable {
    let id = "chatcmpl-agent-\(UUID().uuidString.prefix(12).lowercased())"
    let created = Int(Date().timeIntervalSince1970)
    let model: String

    private struct Chunk: Encodable {
        struct Choice: Encodable {
            struct Delta: Encodable {
                var role: String?
                var content: String?
                var reasoningContent: String?
                enum CodingKeys: String, CodingKey { case role, content, reasoningContent = "reasoning_content" }
            }
            var index = 0
            var delta: Delta
            var finishReason: String?
            enum CodingKeys: String, CodingKey { case index, delta, finishReason = "finish_reason" }

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(index, forKey: .index)
                try c.encode(delta, forKey: .delta)
                // Clients look for an explicit null until the last chunk.
                try c.encode(finishReason, forKey: .finishReason)
            }
        }
        let id: String
        let object = "chat.completion.chunk"
        let created: Int
        let model: String
        let choices: [Choice]
    }

    private struct Message: Encodable {
        struct Choice: Encodable {
            struct Content: Encodable {
                let role = "assistant"
                let content: String
                let reasoningContent: String?
                enum CodingKeys: String, CodingKey { case role, content, reasoningContent = "reasoning_content" }
            }
            let index = 0
            let message: Content
            let finishReason: String
            enum CodingKeys: String, CodingKey { case index, message, finishReason = "finish_reason" }
        }
        let id: String
        let object = "chat.completion"
        let created: Int
        let model: String
        let choices: [Choice]
        let usage: UsageFields
    }

    /// OpenAI's usage object: prompt, completion and total tokens.
    struct UsageFields: Encodable {
        let promptTokens: Int
        let completionTokens: Int
        let totalTokens: Int
        enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens" }

        init(_ usage: Usage) {
            (promptTokens, completionTokens, totalTokens) = (usage.promptTokens, usage.completionTokens, usage.promptTokens + usage.completionTokens)
        }
    }

    private struct UsageChunk: Encodable {
        let id: String
        let object = "chat.completion.chunk"
        let created: Int
        let model: String
        let choices: [Chunk.Choice] = []
        let usage: UsageFields
    }

    /// The last chunk a client that asked for `stream_options.include_usage` gets: no choices, the reply's usage.
    func usageEvent(_ usage: Usage) -> [UInt8] {
        Array("data: ".utf8) + Array(try! Self.encoder.encode(UsageChunk(id: id, created: created, model: model, usage: UsageFields(usage))))
            + Array("\n\n".utf8)
    }

    func event(role: String? = nil, content: String? = nil, reasoning: String? = nil, finishReason: String? = nil) -> [UInt8] {
        let chunk = Chunk(id: id, created: created, model: model, choices: [
            .init(delta: .init(role: role, content: content, reasoningContent: reasoning), finishReason: finishReason),
        ])
        // Plain structs of strings and numbers always encode.
        return Array("data: ".utf8) + Array(try! Self.encoder.encode(chunk)) + Array("\n\n".utf8)
    }

    func message(content: String, reasoning: String, finishReason: String, usage: Usage) -> Data {
        let message = Message(id: id, created: created, model: model, choices: [
            .init(message: .init(content: content, reasoningContent: reasoning.isEmpty ? nil : reasoning), finishReason: finishReason),
        ], usage: UsageFields(usage))
        return try! Self.encoder.encode(message)
    }

    /// Sorted keys: the same chunk always reads the same.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
