import Foundation
import UpstreamClient

/// A chat request as the agent takes it: the whole conversation, checked. The operator's turns and the agent's
/// earlier replies (`user`, `assistant`) are the history; `system` and `developer` messages are the client's
/// instructions, kept apart from the agent's own persona. What the agent cannot honour is refused with the
/// reason, never silently dropped: client tools, `tool` messages, non-text content, a last turn that is not the
/// operator's.
public struct Conversation: Sendable, Equatable {
    public var turns: [ChatMessage]
    public var clientInstructions: String
    public var stream: Bool
    /// The client's `max_tokens` (or `max_completion_tokens`); the agent's own limit still applies.
    public var maxTokens: Int?

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
        if let tools = object["tools"] as? [Any], !tools.isEmpty {
            throw Invalid(message: "the agent model runs its own read-only tools and takes none from the client; send the request without 'tools' (or use the meta model's id for raw tool calling)")
        }
        struct Stream: Decodable { let stream: Bool? }
        guard let flags = try? JSONDecoder().decode(Stream.self, from: requestBody) else {
            throw Invalid(message: "'stream' must be true or false")
        }
        self.stream = flags.stream ?? false
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
