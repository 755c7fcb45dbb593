import Synchronization

/// A reply gathered from the agent's events: the whole answer for a non-streamed response, and the answer's
/// text for the closing action report.
final class ReplyCollector: Sendable {
    private let parts = Mutex<(steps: String, answer: String, cutOff: Bool)>(("", "", false))

    func add(_ event: ChatEvent) {
        parts.withLock {
            switch event {
            case .step(let text): $0.steps += text
            case .answer(let text): $0.answer += text
            case .cutOff: $0.cutOff = true
            }
        }
    }

    var steps: String { parts.withLock { $0.steps } }
    var answer: String { parts.withLock { $0.answer } }
    /// Whether the answer ran into its token limit.
    var cutOff: Bool { parts.withLock { $0.cutOff } }
}
