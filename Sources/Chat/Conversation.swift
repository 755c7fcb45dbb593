import Foundation
import UpstreamClient

/// A chat request as the agent takes it: the whole conversation, checked. The operator's turns and the agent's
/// earlier replies (`user`, `assistant`) are the history; `system` and `developer` messages are the client's
/// instructions, kept apart from the agent's own persona. What the agent cannot honour is refused with the
/// reason, never silently dropped: `tool` messages, non-text content, a last turn that is not the operator's, a
/// `tool_choice` that demands a client tool, a `response_format` other than text. Client tools themselves are
/// optional for the agent (Open WebUI attaches its own to every request): they are accepted and left uncalled,
/// since the agent answers with its own look-ups.
public struct Conversation: Sendable, Equatable {
    public var turns: [ChatMessage]
    public var clientInstructions: String
    public var stream: Bool
    /// The client's `max_tokens` (or `max_completion_tokens`); the agent's own limit still applies.
    public var maxTokens: Int?
    /// `stream_options.include_usage`: a last chunk with the tokens the reply cost.
    public var includeUsage = false
    /// A chat client's background task (a title, tags, follow-up questions) rather than a question about the host:
    /// answered by the model alone, cheaply, after interactive work.
    public var isClientTask = false

    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The longest instructions a client may add to the persona.
    static let instructionLimit = 4000

    public init(turns: [ChatMessage], clientInstructions: String = "", stream: Bool = false, maxTokens: Int? = nil) {
        self.turns = turns
        self.clientInstructions = clientInstructions
        self.stream = stream
        self.maxTokens = maxTokens
    }

    /// Decodes an OpenAI chat completion request body.
    public init(requestBody: Data) throws(Invalid) {
        let object: [String: Any]
        do {
            guard let decoded = try JSONSerialization.jsonObject(with: requestBody) as? [String: Any] else {
                throw Invalid(message: "the request body is not a JSON object")
            }
            object = decoded
        } catch let invalid as Invalid {
            throw invalid
        } catch {
            throw Invalid(message: "the request body is not valid JSON")
        }
        if let tools = object["tools"], !(tools is [Any]) {
            throw Invalid(message: "'tools' must be an array")
        }
        switch object["tool_choice"] {
        case nil, is NSNull: break
        case let choice as String where choice == "auto" || choice == "none": break
        case let choice as String where choice == "required":
            throw Invalid(message: "'tool_choice' is 'required', but the agent answers with its own read-only tools and never calls the client's; send 'auto' or 'none' (or use the meta model's id for raw tool calling)")
        case let choice as [String: Any]:
            let name = ((choice["function"] as? [String: Any])?["name"] as? String).map { " '\($0.prefix(64))'" } ?? ""
            throw Invalid(message: "'tool_choice' names the client's function\(name), which the agent never calls (it answers with its own read-only tools); send 'auto' or 'none' (or use the meta model's id for raw tool calling)")
        default:
            throw Invalid(message: "'tool_choice' must be 'auto', 'none', 'required' or an object naming a function")
        }
        if let format = object["response_format"], !(format is NSNull) {
            guard let type = (format as? [String: Any])?["type"] as? String else {
                throw Invalid(message: "'response_format' must be an object with a 'type'")
            }
            guard type == "text" else {
                throw Invalid(message: "the agent answers in prose and cannot honour 'response_format' of type '\(type.prefix(32))'; use the meta model's id for structured output")
            }
        }
        struct Flags: Decodable {
            struct StreamOptions: Decodable {
                let includeUsage: Bool?
                enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
            }
            let stream: Bool?
            let streamOptions: StreamOptions?
            enum CodingKeys: String, CodingKey { case stream, streamOptions = "stream_options" }
        }
        guard let flags = try? JSONDecoder().decode(Flags.self, from: requestBody) else {
            throw Invalid(message: "'stream' must be true or false, and 'stream_options.include_usage' true or false")
        }
        self.stream = flags.stream ?? false
        includeUsage = flags.streamOptions?.includeUsage ?? false
        struct Limits: Decodable {
            let maxTokens: Int?
            let maxCompletionTokens: Int?
            enum CodingKeys: String, CodingKey { case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens" }
        }
        guard let limits = try? JSONDecoder().decode(Limits.self, from: requestBody),
              (limits.maxTokens ?? 1) > 0, (limits.maxCompletionTokens ?? 1) > 0 else {
            throw Invalid(message: "'max_tokens' and 'max_completion_tokens' must be positive integers")
        }
        maxTokens = limits.maxCompletionTokens ?? limits.maxTokens
        guard let messages = object["messages"] as? [Any], !messages.isEmpty else {
            throw Invalid(message: "'messages' is required and must be a non-empty array")
        }
        var turns: [ChatMessage] = []
        var instructions: [String] = []
        for (index, element) in messages.enumerated() {
            guard let message = element as? [String: Any], let role = message["role"] as? String else {
                throw Invalid(message: "messages[\(index)] must be an object with a 'role' string")
            }
            let text = try Self.text(of: message["content"], at: index)
            switch role {
            case "system", "developer":
                instructions.append(text)
            case "user":
                turns.append(.user(text))
            case "assistant":
                // An assistant turn that only called the client's tools carries no text worth keeping.
                if !text.isEmpty { turns.append(.assistant(text)) }
            case "tool", "function":
                throw Invalid(message: "messages[\(index)] has role '\(role)': the agent takes no results of client tools")
            default:
                throw Invalid(message: "messages[\(index)] has the unknown role '\(role.prefix(32))'; use system, user or assistant")
            }
        }
        guard turns.last?.role == "user" else {
            throw Invalid(message: "the last message must be the operator's (role 'user'): the agent answers it")
        }
        self.turns = turns
        clientInstructions = String(instructions.joined(separator: "\n").prefix(Self.instructionLimit))
        isClientTask = Self.isClientTask(turns.last?.content ?? "")
    }

    /// Open WebUI's background task prompts (title, tags, follow-ups, autocomplete, query generation) begin with
    /// `### Task:`; they ask nothing about the host.
    static func isClientTask(_ question: String) -> Bool {
        question.drop { $0.isWhitespace }.hasPrefix("### Task:")
    }

    /// A message's text: a string, or an array of `{"type": "text", "text": ...}` parts joined.
    static func text(of content: Any?, at index: Int) throws(Invalid) -> String {
        switch content {
        case nil, is NSNull:
            return ""
        case let text as String:
            return text
        case let parts as [Any]:
            var texts: [String] = []
            for part in parts {
                guard let part = part as? [String: Any], let type = part["type"] as? String else {
                    throw Invalid(message: "messages[\(index)].content has a part that is not an object with a 'type'")
                }
                guard type == "text", let text = part["text"] as? String else {
                    throw Invalid(message: "messages[\(index)].content has a '\(type.prefix(32))' part; the agent reads text only")
                }
                texts.append(text)
            }
            return texts.joined(separator: "\n")
        default:
            throw Invalid(message: "messages[\(index)].content must be a string or an array of text parts")
        }
    }

    /// The turns that fit `budget` tokens, newest kept, and how many older ones were left out.
    ///
    /// The rule: the operator's last message is always kept (its beginning cut if it alone is over the budget);
    /// earlier turns are added newest first while they fit; the kept history starts with an operator turn, as
    /// chat templates expect the user to speak first.
    public static func trim(_ turns: [ChatMessage], budget: Int, tokens: (String) -> Int) -> (kept: [ChatMessage], dropped: Int) {
        guard var last = turns.last else { return ([], 0) }
        let lastText = last.content ?? ""
        if tokens(lastText) > budget {
            // Keep the end, where the question usually is; the cut is said, not hidden.
            var kept = Substring(lastText)
            while tokens(String(kept)) > max(budget - 8, 1), kept.count > 1 {
                kept = kept.dropFirst(max(1, kept.count / 8))
            }
            last.content = "(the beginning of this message was cut for space) " + kept
            return ([last], turns.count - 1)
        }
        var used = tokens(lastText)
        var kept: [ChatMessage] = [last]
        for message in turns.dropLast().reversed() {
            let cost = tokens(message.content ?? "")
            guard used + cost <= budget else { break }
            used += cost
            kept.insert(message, at: 0)
        }
        while kept.count > 1, kept.first?.role != "user" { kept.removeFirst() }
        return (kept, turns.count - kept.count)
    }

    /// An estimate that errs on the large side for English and logs: three bytes a token, plus a message's framing.
    public static func estimatedTokens(_ text: String) -> Int { text.utf8.count / 3 + 4 }
}
