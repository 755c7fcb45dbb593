import FoundationEssentials
import HTTPTypes
import OpenAIServer
import SysadminConfiguration

/// A `/v1` request body checked by the gateway, and what it forwards: the body as the client wrote it, with the
/// upstream's model name spliced in and, when the client named no limit, the configured `max_tokens`. Pure, so
/// every refusal is the gateway's own OpenAI-shaped 400 and nothing a client got wrong reaches the model server.
struct RequestCheck {
    /// The model id the client asked for (echoed in what it gets back).
    let model: String
    /// For the daemon's agent rather than the raw meta model.
    let toAgent: Bool
    let streaming: Bool
    /// What goes upstream.
    let body: Data

    enum Route: String {
        case chat = "/v1/chat/completions"
        case completions = "/v1/completions"
        case embeddings = "/v1/embeddings"
    }

    /// Checks `received` for `route`; `upstreamModelJSON` is the upstream's model name as a JSON string.
    init(_ received: Data, route: Route, api: GatewayConfiguration, upstreamModelJSON: Data) throws(OpenAIError) {
        let members: JSONObjectMembers
        do {
            members = try JSONObjectMembers(scanning: received)
        } catch {
            throw .invalidRequest("the request body is not a valid JSON object: \(error)", code: "invalid_json")
        }
        if let key = members.duplicateKey {
            throw .invalidRequest("the key '\(key.prefix(64))' occurs more than once", code: "invalid_json")
        }
        guard let modelMember = members["model"], let model = members.string("model", in: received) else {
            throw .invalidRequest("'model' is required and must be a string; available: \(api.advertisedModelIds.joined(separator: ", "))",
                                  code: "missing_model")
        }
        guard api.advertisedModelIds.contains(model) else {
            throw OpenAIError(.notFound, "the model '\(model.prefix(128))' does not exist; available: \(api.advertisedModelIds.joined(separator: ", "))",
                              type: "invalid_request_error", code: "model_not_found")
        }
        self.model = model
        toAgent = model == api.agentModelId
        if toAgent, route != .chat {
            throw .invalidRequest("the agent model '\(model)' answers chat completions only; use '\(api.modelId)' for \(route.rawValue)",
                                  code: "unsupported_for_agent")
        }
        try Self.checkFields(members, received, route: route)
        streaming = members["stream"]?.kind == .true
        if toAgent {
            // The daemon's agent takes the request as sent: it checks the rest, and its limits apply.
            body = received
            return
        }
        // Everything but `model` goes as the client wrote it: spliced, not re-encoded.
        let start = received.startIndex
        var spliced = Data(capacity: received.count + upstreamModelJSON.count + 24)
        let namesNoLimit = route != .embeddings && members["max_tokens"].map { $0.kind == .null } ?? true
            && members["max_completion_tokens"].map { $0.kind == .null } ?? true
        if namesNoLimit, let limit = api.defaultMaxTokens, let brace = received.firstIndex(of: UInt8(ascii: "{")) {
            // A request without a limit could ramble for the whole context and hold the model's only slot.
            spliced += received[start...brace]
            spliced += Data("\"max_tokens\":\(limit),".utf8)
            spliced += received[(brace + 1)..<(start + modelMember.value.lowerBound)]
        } else {
            spliced += received[start..<(start + modelMember.value.lowerBound)]
        }
        spliced += upstreamModelJSON
        spliced += received[(start + modelMember.value.upperBound)...]
        body = spliced
    }

    /// What the gateway can check itself: the required input, and the types and ranges of the common sampling
    /// fields (which llama-server would otherwise answer with a 400 or 500 of its own shape).
    private static func checkFields(_ members: JSONObjectMembers, _ data: Data, route: Route) throws(OpenAIError) {
        func value(_ key: String) -> String {
            members[key].map { String(decoding: JSONObjectMembers.slice($0, of: data).prefix(40), as: UTF8.self) } ?? ""
        }
        func present(_ key: String) -> JSONObjectMembers.Member? {
            members[key].flatMap { $0.kind == .null ? nil : $0 }
        }
        switch route {
        case .chat:
            guard let messages = members["messages"], messages.kind == .array else {
                throw .invalidRequest("'messages' is required and must be an array", code: "missing_messages")
            }
            if isEmptyArray(messages, in: data) {
                throw .invalidRequest("'messages' must not be empty: the model needs something to answer", code: "missing_messages")
            }
        case .completions:
            guard let prompt = members["prompt"], prompt.kind == .string || prompt.kind == .array else {
                throw .invalidRequest("'prompt' is required and must be a string or an array", code: "missing_prompt")
            }
            if prompt.kind == .array, isEmptyArray(prompt, in: data) {
                throw .invalidRequest("'prompt' must not be an empty array", code: "missing_prompt")
            }
        case .embeddings:
            guard let input = members["input"], input.kind == .string || input.kind == .array else {
                throw .invalidRequest("'input' is required and must be a string or an array", code: "missing_input")
            }
            if input.kind == .array, isEmptyArray(input, in: data) {
                throw .invalidRequest("'input' must not be an empty array", code: "missing_input")
            }
        }
        if let stream = members["stream"], ![.true, .false, .null].contains(stream.kind) {
            throw .invalidRequest("'stream' must be true or false, got \(value("stream"))", code: "invalid_parameter")
        }
        for key in ["max_tokens", "max_completion_tokens"] where present(key) != nil {
            guard let number = members.integer(key, in: data), number >= 1 else {
                throw .invalidRequest("'\(key)' must be a whole number of at least 1, got \(value(key))", code: "invalid_parameter")
            }
        }
        if present("n") != nil {
            guard let n = members.integer("n", in: data), (1...16).contains(n) else {
                throw .invalidRequest("'n' must be a whole number from 1 to 16, got \(value("n"))", code: "invalid_parameter")
            }
        }
        if present("seed") != nil, members.integer("seed", in: data) == nil {
            throw .invalidRequest("'seed' must be a whole number, got \(value("seed"))", code: "invalid_parameter")
        }
        for (key, range) in [("temperature", 0.0...2.0), ("top_p", 0.0...1.0), ("presence_penalty", -2.0...2.0), ("frequency_penalty", -2.0...2.0)]
        where present(key) != nil {
            guard let number = members.number(key, in: data), range.contains(number) else {
                throw .invalidRequest("'\(key)' must be a number from \(range.lowerBound) to \(range.upperBound), got \(value(key))", code: "invalid_parameter")
            }
        }
        if let stop = present("stop"), stop.kind != .string, stop.kind != .array {
            throw .invalidRequest("'stop' must be a string or an array of strings, got \(value("stop"))", code: "invalid_parameter")
        }
        if let options = present("stream_options"), options.kind != .object {
            throw .invalidRequest("'stream_options' must be an object, got \(value("stream_options"))", code: "invalid_parameter")
        }
    }

    /// Whether an array member is `[]` (whitespace aside).
    private static func isEmptyArray(_ member: JSONObjectMembers.Member, in data: Data) -> Bool {
        JSONObjectMembers.slice(member, of: data).dropFirst().dropLast().allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    }
}
