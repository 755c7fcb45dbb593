import Foundation
import Monitoring
import UpstreamClient

/// The one bounded tool loop of the analysis (Layer 4) and the chat: the model is asked step by step, each step
/// either calls tools or concludes, and the loop owns what both must do alike — the step and time budgets, running
/// the calls (arguments cleaned and limited to the names a tool takes, unknown tools answered with the list, repeated
/// look-ups answered "already looked up above" and still counted), keeping each result bounded, and letting the
/// oldest tool results give way when the prompt grows.
///
/// How a step is asked is the caller's: natively (the model returns `tool_calls`; the loop keeps the transcript of
/// calls and results to send back) or schema-bound (one JSON step object at a time; the caller renders the findings
/// into its prompt). Prompts, schemas, slots, retries and what a conclusion is stay with the caller.
public struct AgentLoop: Sendable {
    /// Something the model may call.
    public struct Tool: Sendable {
        public enum Kind: Sendable, Equatable {
            /// Read-only: a repeat of the same call is answered from what was found, not run again.
            case lookUp
            /// Changes something (a proposal): always run; what to do with a repeat is the executor's to judge.
            case action
        }

        public var name: String
        public var description: String
        /// The arguments a look-up takes and what they mean; an action's arguments pass as the model sent them.
        public var arguments: [String: String]
        public var kind: Kind
        public var run: @Sendable (_ arguments: [String: String]) async throws -> String

        public init(name: String, description: String, arguments: [String: String], kind: Kind = .lookUp,
                    run: @escaping @Sendable (_ arguments: [String: String]) async throws -> String) {
            self.name = name
            self.description = description
            self.arguments = arguments
            self.kind = kind
            self.run = run
        }

        /// A look-up the catalog describes.
        public init(_ described: AnalysisTool, run: @escaping @Sendable (_ arguments: [String: String]) async throws -> String) {
            self.init(name: described.name, description: described.description, arguments: described.arguments, run: run)
        }
    }

    /// One call the model asked for.
    public struct Call: Sendable, Equatable {
        public var name: String
        public var arguments: [String: String]

        public init(name: String, arguments: [String: String]) {
            self.name = name
            self.arguments = arguments
        }
    }

    /// One call as the loop ran it, or answered it as a repeat.
    public struct Finding: Sendable, Equatable {
        public var tool: String
        public var arguments: [String: String]
        /// `tool k=v …`: how the call is shown, and what makes two calls the same.
        public var call: String
        public var result: String
        public var kind: Tool.Kind
        public var repeated: Bool
        /// Run before the model was asked (the chat's look-ups for units a question names); not counted.
        public var prefetched: Bool
    }

    /// What a step is asked with.
    public struct Progress: Sendable {
        /// The step budget or the time budget is spent: the model may only conclude.
        public var isLast: Bool
        /// Every call so far, oldest first.
        public var findings: [Finding]
        /// For native steps: the assistant's tool calls and the tool results so far, to follow the caller's messages.
        /// The oldest results give way first (their content replaced) when they exceed the transcript budget.
        public var transcript: [ChatMessage]

        /// The newest findings that fit `tokens`, oldest first, and how many older ones did not.
        public func findings(within tokens: Int, count: (String) -> Int) -> (kept: [Finding], dropped: Int) {
            AgentLoop.newest(findings, within: tokens, count: count)
        }
    }

    /// The newest of `findings` whose calls and results fit `tokens`, oldest first, and how many older ones did not
    /// fit: older results give way first when the prompt is tight, and the newest is always kept.
    public static func newest(_ findings: [Finding], within tokens: Int, count: (String) -> Int) -> (kept: [Finding], dropped: Int) {
        var kept: [Finding] = []
        var used = 0
        for finding in findings.reversed() {
            let cost = count(finding.call) + count(finding.result)
            guard kept.isEmpty || used + cost <= tokens else { break }
            kept.insert(finding, at: 0)
            used += cost
        }
        return (kept, findings.count - kept.count)
    }

    /// What a step came to.
    public enum Step<Conclusion: Sendable>: Sendable {
        /// Schema-bound: one call.
        case call(Call)
        /// Native: the tool calls of the model's answer, as it sent them.
        case toolCalls([ToolCall])
        /// The model concluded, or the caller decided the loop ends here.
        case conclude(Conclusion)
    }

    public struct Run<Conclusion: Sendable>: Sendable {
        /// `nil` when the model asked for calls on its last step.
        public var conclusion: Conclusion?
        public var findings: [Finding]
    }

    public let tools: [Tool]
    /// Calls (look-ups, repeats and actions; prefetched ones aside) before the model must conclude.
    public let maximumToolCalls: Int
    /// Once this much time has passed, the next step is the last.
    public let deadline: Duration?
    /// Calls taken from one native answer; fewer when fewer remain, so the budget is never overrun.
    public let callsPerStep: Int
    /// Characters of a tool's output kept.
    public let toolOutputLimit: Int
    /// Tokens the native transcript may take, and how a text is counted.
    public let transcriptTokens: Int
    public let count: @Sendable (String) -> Int

    public init(tools: [Tool], maximumToolCalls: Int, deadline: Duration? = nil, callsPerStep: Int = 3, toolOutputLimit: Int,
                transcriptTokens: Int, count: @escaping @Sendable (String) -> Int) {
        self.tools = tools
        self.maximumToolCalls = maximumToolCalls
        self.deadline = deadline
        self.callsPerStep = max(1, callsPerStep)
        self.toolOutputLimit = toolOutputLimit
        self.transcriptTokens = transcriptTokens
        self.count = count
    }

    /// Runs `prefetch` (shown, not counted), then asks `step` until it concludes or asks for calls on its last step.
    /// `observe` sees every finding as soon as it is made. Throws what `step`, `observe` and the tools throw.
    public func run<Conclusion: Sendable>(
        prefetch: [Call] = [],
        observe: (Finding) async throws -> Void = { _ in },
        step: (Progress) async throws -> Step<Conclusion>
    ) async throws -> Run<Conclusion> {
        let started = ContinuousClock.now
        var findings: [Finding] = []
        var transcript: [ChatMessage] = []
        var counted = 0
        for call in prefetch {
            let finding = try await perform(call, after: findings, prefetched: true)
            findings.append(finding)
            try await observe(finding)
        }
        while true {
            let isLast = counted >= maximumToolCalls || deadline.map { ContinuousClock.now - started >= $0 } ?? false
            dropOldestResults(&transcript)
            let calls: [Call]
            switch try await step(Progress(isLast: isLast, findings: findings, transcript: transcript)) {
            case .conclude(let conclusion):
                return Run(conclusion: conclusion, findings: findings)
            case .call(let call):
                guard !isLast else { return Run(conclusion: nil, findings: findings) }
                calls = [call]
            case .toolCalls(let requested):
                guard !isLast, !requested.isEmpty else { return Run(conclusion: nil, findings: findings) }
                // Every call sent back has its answer: the ones beyond the budget are neither run nor sent back.
                let taken = Array(requested.prefix(min(callsPerStep, maximumToolCalls - counted)))
                transcript.append(ChatMessage(role: "assistant", content: nil, toolCalls: taken))
                for toolCall in taken {
                    let finding = try await perform(Call(name: toolCall.function.name, arguments: Self.stringArguments(toolCall.function.arguments)),
                                                     after: findings, prefetched: false)
                    findings.append(finding)
                    counted += 1
                    transcript.append(.tool(finding.result, callID: LogText.clean(toolCall.id, limit: 64)))
                    try await observe(finding)
                }
                continue
            }
            for call in calls {
                let finding = try await perform(call, after: findings, prefetched: false)
                findings.append(finding)
                counted += 1
                try await observe(finding)
            }
        }
    }

    /// Runs one call, or answers it without running it.
    private func perform(_ call: Call, after findings: [Finding], prefetched: Bool) async throws -> Finding {
        let name = LogText.clean(call.name, limit: 40)
        guard let tool = tools.first(where: { $0.name == name }) else {
            let known = tools.map(\.name).joined(separator: ", ")
            return Finding(tool: name, arguments: [:], call: name, result: "unknown tool '\(name)'; the tools are \(known)",
                           kind: .lookUp, repeated: false, prefetched: prefetched)
        }
        let arguments: [String: String]
        switch tool.kind {
        case .lookUp:
            // Only the arguments the tool takes; an empty one is one not given, and the tool's default applies.
            arguments = call.arguments.reduce(into: [:]) { result, entry in
                if tool.arguments[entry.key] != nil, !entry.value.isEmpty { result[entry.key] = LogText.clean(entry.value, limit: 200) }
            }
        case .action:
            // The executor validates the strings as they came, and rejects rather than repairs.
            arguments = call.arguments
        }
        let shown = tool.kind == .lookUp && !arguments.isEmpty ? "\(name) \(arguments.keyValueText)" : name
        if tool.kind == .lookUp, findings.contains(where: { $0.call == shown && !$0.repeated }) {
            // Small models repeat themselves; the call still counts, so the loop ends.
            return Finding(tool: name, arguments: arguments, call: shown, result: "already looked up above", kind: .lookUp,
                           repeated: true, prefetched: prefetched)
        }
        let output = try await tool.run(arguments)
        return Finding(tool: name, arguments: arguments, call: shown, result: LogText.cleanLines(output, limit: toolOutputLimit),
                       kind: tool.kind, repeated: false, prefetched: prefetched)
    }

    /// Replaces the oldest tool results with a placeholder while the transcript is over its budget; the newest stays.
    private func dropOldestResults(_ transcript: inout [ChatMessage]) {
        let results = transcript.indices.filter { transcript[$0].role == "tool" }
        var total = transcript.reduce(0) { $0 + count($1.content ?? "") }
        for index in results.dropLast() where total > transcriptTokens {
            guard let content = transcript[index].content, content != Self.droppedResult else { continue }
            total -= count(content) - count(Self.droppedResult)
            transcript[index].content = Self.droppedResult
        }
    }

    static let droppedResult = "(dropped for space)"

    /// A native call's arguments as the strings the tools take: strings, and whole numbers written as such; keys up
    /// to 40 characters, values up to 200. Anything else is dropped.
    public static func stringArguments(_ json: String) -> [String: String] {
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8)) else { return [:] }
        return object.reduce(into: [:]) { result, entry in
            let key = String(entry.key.prefix(40))
            switch entry.value {
            case .string(let value): result[key] = String(value.prefix(200))
            case .number(let value) where value == value.rounded() && abs(value) < 1e12: result[key] = String(Int64(value))
            default: break
            }
        }
    }

    /// The native tool definitions of `tools`, their argument meanings in the description.
    public static func definitions(_ tools: [Tool], parameters: (Tool) -> JSONValue? = { _ in nil }) -> [ToolDefinition] {
        tools.map { tool in
            ToolDefinition(name: tool.name,
                           description: tool.description + (tool.arguments.isEmpty ? "" : " — " + tool.arguments.keyValueText),
                           parameters: parameters(tool) ?? argumentsSchema(tool.arguments.keys.sorted()))
        }
    }

    /// A tool's arguments: the names it takes, each a bounded string, nothing else.
    public static func argumentsSchema(_ names: [String]) -> JSONValue {
        .object([
            "type": "object",
            "properties": .object(Dictionary(uniqueKeysWithValues: names.map { ($0, .object(["type": "string", "maxLength": 200])) })),
            "additionalProperties": false,
        ])
    }

    /// A schema-bound step that calls one of `tools`: `{"tool": NAME, "arguments": {...}}`.
    public static func toolCallSchema(_ tools: [AnalysisTool]) -> JSONValue {
        .object([
            "type": "object",
            "properties": .object([
                "tool": .object(["enum": .array(tools.map { .string($0.name) })]),
                // Named and bounded, like the action parameters: open-ended keys would run into the token limit.
                "arguments": argumentsSchema(Array(Set(tools.flatMap(\.arguments.keys))).sorted()),
            ]),
            "required": ["tool", "arguments"],
        ])
    }
}
