import FoundationEssentials

/// A chat message in the OpenAI shape.
public struct ChatMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String?
    /// An assistant's calls of the request's tools.
    public var toolCalls: [ToolCall]?
    /// On a `tool` message: the call it answers.
    public var toolCallID: String?
    /// Thinking shown apart from the answer (llama-server's and DeepSeek's field; Open WebUI folds it away).
    public var reasoningContent: String?

    public init(role: String, content: String?, toolCalls: [ToolCall]? = nil, toolCallID: String? = nil, reasoningContent: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.reasoningContent = reasoningContent
    }

    public static func tool(_ text: String, callID: String) -> ChatMessage { .init(role: "tool", content: text, toolCallID: callID) }

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
        case reasoningContent = "reasoning_content"
    }

    public static func system(_ text: String) -> ChatMessage { .init(role: "system", content: text) }
    public static func user(_ text: String) -> ChatMessage { .init(role: "user", content: text) }
    public static func assistant(_ text: String) -> ChatMessage { .init(role: "assistant", content: text) }
}

/// A function call in an assistant message; `arguments` is JSON text, as the model wrote it.
public struct ToolCall: Codable, Sendable, Equatable {
    public struct Function: Codable, Sendable, Equatable {
        public var name: String
        public var arguments: String

        public init(name: String, arguments: String) {
            self.name = name
            self.arguments = arguments
        }
    }

    public var id: String
    public var type: String
    public var function: Function

    public init(id: String, function: Function) {
        self.id = id
        self.type = "function"
        self.function = function
    }
}

/// A function the model may call (`tools` of a chat completion request).
public struct ToolDefinition: Codable, Sendable, Equatable {
    public struct Function: Codable, Sendable, Equatable {
        public var name: String
        public var description: String
        /// A JSON schema of the arguments object.
        public var parameters: JSONValue
    }

    public var type = "function"
    public var function: Function

    public init(name: String, description: String, parameters: JSONValue) {
        function = Function(name: name, description: description, parameters: parameters)
    }
}

/// `response_format` for llama-server: JSON constrained by a schema (compiled to a grammar server-side).
public struct ResponseFormat: Codable, Sendable, Equatable {
    public struct JSONSchemaFormat: Codable, Sendable, Equatable {
        public var name: String
        public var schema: JSONValue
        public var strict: Bool
    }

    public var type: String
    public var jsonSchema: JSONSchemaFormat?

    public static func jsonSchema(name: String, schema: JSONValue) -> ResponseFormat {
        ResponseFormat(type: "json_schema", jsonSchema: .init(name: name, schema: schema, strict: true))
    }

    enum CodingKeys: String, CodingKey {
        case type
        case jsonSchema = "json_schema"
    }
}

public struct ChatCompletionRequest: Codable, Sendable {
    public var model: String
    public var messages: [ChatMessage]
    public var temperature: Double?
    public var maxTokens: Int?
    public var seed: Int?
    public var stream: Bool?
    public var responseFormat: ResponseFormat?
    public var tools: [ToolDefinition]?
    /// "auto", "required" or "none".
    public var toolChoice: String?
    /// For a stream: `include_usage` asks for a last chunk with the tokens the request cost.
    public var streamOptions: StreamOptions?

    public struct StreamOptions: Codable, Sendable {
        public var includeUsage: Bool
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    public init(
        model: String = "default", messages: [ChatMessage], temperature: Double? = nil, maxTokens: Int? = nil,
        seed: Int? = nil, responseFormat: ResponseFormat? = nil, tools: [ToolDefinition]? = nil, toolChoice: String? = nil
    ) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.seed = seed
        self.responseFormat = responseFormat
        self.tools = tools
        self.toolChoice = toolChoice
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, seed, stream, tools
        case maxTokens = "max_tokens"
        case responseFormat = "response_format"
        case toolChoice = "tool_choice"
        case streamOptions = "stream_options"
    }
}

public struct Usage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int

    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    public static func + (a: Usage, b: Usage) -> Usage {
        Usage(promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens)
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
    }
}

public struct ChatCompletion: Codable, Sendable {
    public struct Choice: Codable, Sendable {
        public var index: Int
        public var message: ChatMessage
        public var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
        }
    }

    public var id: String?
    public var model: String?
    public var choices: [Choice]
    public var usage: Usage?

    /// The first choice's text, the usual answer.
    public var content: String? { choices.first?.message.content }
}

public struct ChatCompletionChunk: Codable, Sendable {
    public struct Delta: Codable, Sendable {
        public var role: String?
        public var content: String?
        public var reasoningContent: String?
        public var toolCalls: [ToolCallDelta]?

        public init(role: String? = nil, content: String? = nil, reasoningContent: String? = nil, toolCalls: [ToolCallDelta]? = nil) {
            self.role = role
            self.content = content
            self.reasoningContent = reasoningContent
            self.toolCalls = toolCalls
        }

        enum CodingKeys: String, CodingKey {
            case role, content
            case reasoningContent = "reasoning_content"
            case toolCalls = "tool_calls"
        }
    }

    /// A piece of a streamed tool call: the first piece of call `index` has its id and name, the rest append
    /// to its arguments.
    public struct ToolCallDelta: Codable, Sendable {
        public struct Function: Codable, Sendable {
            public var name: String?
            public var arguments: String?
        }

        public var index: Int
        public var id: String?
        public var function: Function?
    }

    public struct Choice: Codable, Sendable {
        public var index: Int
        public var delta: Delta
        public var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }
    }

    public var id: String?
    public var choices: [Choice]
    public var usage: Usage?
}

/// What llama-server's `/health` says.
public enum ServerHealth: Sendable, Equatable {
    /// 200: the model is loaded and the server takes requests.
    case ready
    /// 503: still loading the model.
    case loading
    /// Anything else: refused, timed out, unexpected status. The text says which.
    case unavailable(String)
}

/// The parts of llama-server's `GET /props` that the project uses.
public struct ServerProps: Sendable, Equatable, Decodable {
    /// The context size per slot (`n_ctx`).
    public var contextSize: Int
    public var totalSlots: Int
    public var modelPath: String?
    /// Whether the model's chat template handles OpenAI tool calls (`chat_template_caps.supports_tool_calls`);
    /// false when the server does not say.
    public var supportsToolCalls: Bool

    enum CodingKeys: String, CodingKey {
        case defaultGenerationSettings = "default_generation_settings"
        case totalSlots = "total_slots"
        case modelPath = "model_path"
        case chatTemplateCaps = "chat_template_caps"
    }

    enum SettingsKeys: String, CodingKey { case nCtx = "n_ctx" }
    enum CapsKeys: String, CodingKey { case supportsToolCalls = "supports_tool_calls" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let settings = try container.nestedContainer(keyedBy: SettingsKeys.self, forKey: .defaultGenerationSettings)
        contextSize = try settings.decode(Int.self, forKey: .nCtx)
        totalSlots = try container.decode(Int.self, forKey: .totalSlots)
        modelPath = try container.decodeIfPresent(String.self, forKey: .modelPath)
        let caps = try? container.nestedContainer(keyedBy: CapsKeys.self, forKey: .chatTemplateCaps)
        supportsToolCalls = (try? caps?.decodeIfPresent(Bool.self, forKey: .supportsToolCalls)) ?? false
    }
}

/// One entry of `GET /v1/models`.
public struct ModelInfo: Codable, Sendable, Equatable {
    public var id: String
    public var ownedBy: String?

    enum CodingKeys: String, CodingKey {
        case id
        case ownedBy = "owned_by"
    }
}
