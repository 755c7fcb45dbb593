/// Exponential backoff: `initial * 2^(n-1)`, capped — between restarts of a failed model server, and between
/// attempts to classify a template whose classification failed.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(60)) {
        precondition(initial > .zero && maximum >= initial, "backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The wait before restart number `failures` (1 for the first failure).
    public func delay(afterFailures failures: Int) -> Duration {
        guard failures > 1 else { return initial }
        var delay = initial
        for _ in 1..<failures {
            delay = delay * 2
            if delay >= maximum { return maximum }
        }
        return delay
    }
}
