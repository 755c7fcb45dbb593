import FoundationEssentials
import SysadminConfiguration

/// An OpenAI-compatible client for one model server, built on ``UpstreamHTTPClient``.
///
/// Besides chat completions it speaks llama-server's own endpoints (`/health`, `/props`, `/tokenize`).
public struct OpenAIClient: Sendable {
    public let endpoint: ModelEndpoint
    private let http: UpstreamHTTPClient
    /// Timeouts for generation requests; short probes (`/health`) use ``probeTimeouts``.
    public var timeouts: HTTPTimeouts
    public var probeTimeouts: HTTPTimeouts

    public init(
        endpoint: ModelEndpoint, http: UpstreamHTTPClient = .shared,
        timeouts: HTTPTimeouts = .init(connect: .seconds(5), total: .seconds(600), idle: .seconds(120)),
        probeTimeouts: HTTPTimeouts = .init(connect: .seconds(2), total: .seconds(3), idle: .seconds(3))
    ) {
        self.endpoint = endpoint
        self.http = http
        self.timeouts = timeouts
        self.probeTimeouts = probeTimeouts
    }

    // MARK: Server probes

    /// `GET /health`: ready (200), loading (503) or unavailable with the reason. Never throws.
    public func health() async -> ServerHealth {
        do {
            let response = try await http.execute(HTTPRequest(url: endpoint.url("/health"), timeouts: probeTimeouts, unixSocketPath: endpoint.unixSocketPath))
            switch response.status {
            case 200: return .ready
            case 503: return .loading
            default: return .unavailable("/health answered \(response.status)")
            }
        } catch let error as UpstreamError {
            return .unavailable(error.description)
        } catch {
            return .unavailable("\(error)")
        }
    }

    /// Health for servers that may not be llama-server (vLLM, Ollama's /v1): `/ready` where it exists (an ai-sysadmin
    /// gateway, whose `/health` says only that the gateway is up, answers whether its model is), else `/health`, and
    /// where that route does not exist (404), whether `/v1/models` answers 200.
    public func genericHealth() async -> ServerHealth {
        do {
            // A server without the route (404, or anything but 200 and 503) is asked the usual way; one that does not
            // answer at all is not ready, however its /health would answer.
            let ready = try await http.execute(HTTPRequest(url: endpoint.url("/ready"), timeouts: probeTimeouts, unixSocketPath: endpoint.unixSocketPath))
            switch ready.status {
            case 200: return .ready
            case 503: return .unavailable("/ready answered 503: the server's model is not ready")
            default: break
            }
            let response = try await http.execute(HTTPRequest(url: endpoint.url("/health"), timeouts: probeTimeouts, unixSocketPath: endpoint.unixSocketPath))
            switch response.status {
            case 200: return .ready
            case 503: return .loading
            case 404:
                let models = try await http.execute(HTTPRequest(
                    url: endpoint.url("/v1/models"), headers: endpoint.authorizationHeaders, timeouts: probeTimeouts,
                    unixSocketPath: endpoint.unixSocketPath))
                return models.status == 200 ? .ready : .unavailable("/v1/models answered \(models.status)")
            default: return .unavailable("/health answered \(response.status)")
            }
        } catch {
            return .unavailable("\(error)")
        }
    }

    /// `GET /props`: context size per slot and slot count.
    public func props() async throws -> ServerProps {
        try await getJSON("/props", as: ServerProps.self)
    }

    /// `POST /v1/embeddings`: one vector per input, in input order.
    public func embeddings(_ inputs: [String], model: String? = nil) async throws -> [[Float]] {
        struct Body: Encodable { let input: [String]; let model: String }
        struct Answer: Decodable {
            struct Item: Decodable { let index: Int; let embedding: [Float] }
            let data: [Item]
        }
        let answer = try await postJSON("/v1/embeddings", body: Body(input: inputs, model: model ?? "default"), as: Answer.self)
        guard answer.data.count == inputs.count else {
            throw UpstreamError(.invalidResponse, "\(answer.data.count) embeddings for \(inputs.count) inputs")
        }
        return answer.data.sorted { $0.index < $1.index }.map(\.embedding)
    }

    /// `POST /tokenize`: the token ids of `text`, without special tokens.
    public func tokenize(_ text: String) async throws -> [Int] {
        struct Body: Encodable { let content: String }
        struct Answer: Decodable { let tokens: [Int] }
        return try await postJSON("/tokenize", body: Body(content: text), as: Answer.self).tokens
    }

    /// `GET /v1/models`.
    public func models() async throws -> [ModelInfo] {
        struct Answer: Decodable { let data: [ModelInfo] }
        return try await getJSON("/v1/models", as: Answer.self).data
    }

    // MARK: Chat

    /// `POST /v1/chat/completions` without streaming.
    public func chatCompletion(_ request: ChatCompletionRequest) async throws -> ChatCompletion {
        var request = request
        request.model = endpoint.modelName ?? request.model
        request.stream = nil
        return try await postJSON("/v1/chat/completions", body: request, as: ChatCompletion.self)
    }

    /// `POST /v1/chat/completions` with `stream: true`; chunks arrive as the model produces them and the
    /// sequence ends at `data: [DONE]`. Dropping the sequence aborts the request.
    public func streamChatCompletion(_ request: ChatCompletionRequest) async throws -> ChatCompletionChunkStream {
        var request = request
        request.model = endpoint.modelName ?? request.model
        request.stream = true
        // The last chunk then says what the request cost (llama-server and OpenAI both honour it).
        request.streamOptions = .init(includeUsage: true)
        let response = try await http.stream(HTTPRequest(
            method: .post, url: endpoint.url("/v1/chat/completions"), headers: jsonHeaders,
            body: try encode(request), timeouts: timeouts, unixSocketPath: endpoint.unixSocketPath))
        return ChatCompletionChunkStream(events: response.serverSentEvents)
    }

    /// A chat completion constrained by `schema` (llama-server compiles it to a grammar) and decoded into `T`.
    ///
    /// Throws ``UpstreamError/Code/invalidResponse`` with the model's text when it does not decode: the
    /// caller decides whether to retry; nothing is invented in its place.
    public func structuredCompletion<T: Decodable>(
        _ request: ChatCompletionRequest, schemaName: String, schema: JSONValue, as type: T.Type
    ) async throws -> T {
        try await structuredCompletionWithUsage(request, schemaName: schemaName, schema: schema, as: type).value
    }

    /// ``structuredCompletion(_:schemaName:schema:as:)`` and the tokens it cost, as the server reported them.
    public func structuredCompletionWithUsage<T: Decodable>(
        _ request: ChatCompletionRequest, schemaName: String, schema: JSONValue, as type: T.Type
    ) async throws -> (value: T, usage: Usage?) {
        var request = request
        request.responseFormat = .jsonSchema(name: schemaName, schema: schema)
        let completion = try await chatCompletion(request)
        guard let text = completion.content else {
            throw UpstreamError(.invalidResponse, "the model returned no content for schema \(schemaName)")
        }
        if completion.choices.first?.finishReason == "length" {
            throw UpstreamError(.invalidResponse, "the answer for schema \(schemaName) was cut off at max_tokens (\(request.maxTokens.map(String.init) ?? "the server's limit")) before it was complete",
                                body: String(text.prefix(2000)))
        }
        do {
            return (try JSONDecoder().decode(T.self, from: Data(text.utf8)), completion.usage)
        } catch {
            throw UpstreamError(.invalidResponse, "the answer does not match schema \(schemaName): \(error)", body: String(text.prefix(2000)))
        }
    }

    // MARK: Plumbing

    private var jsonHeaders: [(name: String, value: String)] {
        [("Content-Type", "application/json"), ("Accept", "application/json")] + endpoint.authorizationHeaders
    }

    private func encode(_ value: some Encodable) throws -> Data {
        do {
            return try JSONEncoder().encode(value)
        } catch {
            throw UpstreamError(.invalidRequest, "request body does not encode: \(error)")
        }
    }

    private func getJSON<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        let response = try await http.execute(HTTPRequest(
            url: endpoint.url(path), headers: jsonHeaders, timeouts: probeTimeouts, unixSocketPath: endpoint.unixSocketPath))
        return try decode(response, path: path, as: type)
    }

    private func postJSON<T: Decodable>(_ path: String, body: some Encodable, as type: T.Type) async throws -> T {
        let response = try await http.execute(HTTPRequest(
            method: .post, url: endpoint.url(path), headers: jsonHeaders, body: try encode(body), timeouts: timeouts,
            unixSocketPath: endpoint.unixSocketPath))
        return try decode(response, path: path, as: type)
    }

    private func decode<T: Decodable>(_ response: HTTPResponse, path: String, as type: T.Type) throws -> T {
        guard (200..<300).contains(response.status) else {
            throw UpstreamError(.httpStatus, "\(endpoint.url(path)) answered \(response.status)",
                                status: response.status, body: String(decoding: response.body.prefix(65536), as: UTF8.self))
        }
        do {
            return try JSONDecoder().decode(T.self, from: response.body)
        } catch {
            throw UpstreamError(.invalidResponse, "\(endpoint.url(path)) returned JSON that is not \(T.self): \(error)",
                                body: String(decoding: response.body.prefix(2000), as: UTF8.self))
        }
    }
}

/// `chat.completion.chunk` objects decoded from a stream as the consumer pulls them; ends at `data: [DONE]`.
public struct ChatCompletionChunkStream: AsyncSequence, Sendable {
    public typealias Element = ChatCompletionChunk

    let events: ServerSentEventStream

    public struct AsyncIterator: AsyncIteratorProtocol {
        var events: ServerSentEventStream.AsyncIterator
        var done = false

        public mutating func next() async throws -> ChatCompletionChunk? {
            guard !done else { return nil }
            while let item = try await events.next() {
                guard case .event(let event) = item else { continue }
                if event.isDone {
                    done = true
                    return nil
                }
                do {
                    return try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(event.data.utf8))
                } catch {
                    // A server that fails after the stream began says so in an event of its own.
                    let reported = UpstreamError(.malformedStream, "", body: event.data)
                    if let message = reported.serverMessage {
                        throw UpstreamError(.malformedStream, "the server reported an error mid-stream: \(message)", body: event.data)
                    }
                    throw UpstreamError(.malformedStream, "a chunk is not a chat.completion.chunk: \(event.data.prefix(200))")
                }
            }
            throw UpstreamError(.malformedStream, "the stream ended without data: [DONE]")
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(events: events.makeAsyncIterator())
    }
}
