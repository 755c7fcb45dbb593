import Synchronization
import UpstreamClient

/// A reply gathered from the agent's events: the whole answer for a non-streamed response, and the answer's
/// text for the closing action report.
final class ReplyCollector: Sendable {
    private let parts = Mutex<(steps: String, answer: String, cutOff: Bool, usage: Usage)>(("", "", false, Usage(promptTokens: 0, completionTokens: 0)))

    func add(_ event: ChatEvent) {
        parts.withLock {
            switch event {
            case .step(let text): $0.steps += text
            case .answer(let text): $0.answer += text
            case .cutOff: $0.cutOff = true
            case .usage(let usage): $0.usage = $0.usage + usage
            }
        }
    }

    /// The tokens of every request the reply made to the meta model.
    var usage: Usage { parts.withLock { $0.usage } }

    var steps: String { parts.withLock { $0.steps } }
    var answer: String { parts.withLock { $0.answer } }
    /// Whether the answer ran into its token limit.
    var cutOff: Bool { parts.withLock { $0.cutOff } }
}
