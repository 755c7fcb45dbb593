import ChildProcesses
import SysadminConfiguration
/// The lifecycle of one model server as a pure state machine: events in, one action out, no I/O.
///
/// ```
/// stopped ─start→ starting ─/health 200→ ready ⇄ unhealthy ─N misses→ (terminate)
///                     │                    │                               │
///                     └──── exit / start timeout / spawn failure ─────────┴→ backoff ─elapsed→ restarting → ready
///                                                                          └→ failed (crash loop; retried at the cap)
/// ```
/// The controller that owns it performs the returned ``Action`` (spawn, signal, timer) and feeds the
/// outcome back as the next ``Event``. Time is passed in, so every transition is testable without a clock.
public struct ModelLifecycle: Sendable {
    public enum State: String, Sendable, Codable, Equatable {
        case stopped, starting, ready, unhealthy, backoff, restarting, failed, stopping
    }

    public struct Policy: Sendable, Equatable {
        /// Consecutive failed `/health` probes after Ready before the server counts as hung.
        public var missesBeforeRestart: Int
        /// Consecutive failures (without a stable Ready in between) that make a crash loop.
        public var crashLoopFailures: Int
        /// How long a server must stay Ready for its failure count to start again from zero.
        public var stablePeriod: Duration
        public var backoff: Backoff

        public init(missesBeforeRestart: Int = 3, crashLoopFailures: Int = 5, stablePeriod: Duration = .seconds(60),
                    backoff: Backoff = .init()) {
            self.missesBeforeRestart = max(1, missesBeforeRestart)
            self.crashLoopFailures = max(1, crashLoopFailures)
            self.stablePeriod = stablePeriod
            self.backoff = backoff
        }
    }

    public enum HealthObservation: Sendable, Equatable {
        case ready
        case loading
        case down(String)
    }

    public enum Event: Sendable, Equatable {
        case startRequested
        /// The server could not even be started (missing model file, port taken, exec failed).
        case spawnFailed(String)
        case health(HealthObservation)
        case startTimedOut(Duration)
        /// The process ended; `description` says how, `stderrTail` holds its last lines.
        case exited(description: String, stderrTail: [String])
        case backoffElapsed
        case stopRequested
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Start a new server process (or, for an external unit, start watching it again).
        case spawn
        /// End the current process; `graceful` false means SIGKILL at once (it no longer answers).
        case terminate(reason: String, graceful: Bool)
        /// Call back with ``Event/backoffElapsed`` after this long.
        case scheduleRestart(after: Duration)
        /// Stopping is complete.
        case stopped
    }

    public let policy: Policy
    public private(set) var state: State = .stopped
    /// Respawns after a failure; the first start does not count.
    public private(set) var restarts = 0
    public private(set) var consecutiveFailures = 0
    public private(set) var missedProbes = 0
    public private(set) var lastError: String?
    public private(set) var readySince: ContinuousClock.Instant?
    public private(set) var stateSince: ContinuousClock.Instant?
    /// Why the controller was told to terminate, reported when the exit arrives.
    private var terminationReason: String?
    private var lastReadyAt: ContinuousClock.Instant?

    public init(policy: Policy = .init()) {
        self.policy = policy
    }

    /// Whether a server process is expected to be running (and its `/health` worth probing).
    public var isRunning: Bool {
        switch state {
        case .starting, .restarting, .ready, .unhealthy, .stopping: true
        case .stopped, .backoff, .failed: false
        }
    }

    public mutating func handle(_ event: Event, at now: ContinuousClock.Instant) -> Action {
        switch (state, event) {
        case (.stopped, .startRequested):
            enter(.starting, at: now)
            return .spawn

        case (.starting, .spawnFailed(let reason)), (.restarting, .spawnFailed(let reason)):
            // Nothing ran, so nothing can get better by itself soon: report Failed now, retry at the cap.
            return fail(reason, stderrTail: [], at: now, permanent: true)

        case (.starting, .health(.ready)), (.restarting, .health(.ready)), (.unhealthy, .health(.ready)):
            missedProbes = 0
            if state != .unhealthy { readySince = now }
            lastReadyAt = now
            enter(.ready, at: now)
            return .none

        case (.ready, .health(.ready)):
            missedProbes = 0
            lastReadyAt = now
            return .none

        case (.ready, .health(let observation)), (.unhealthy, .health(let observation)):
            missedProbes += 1
            if state == .ready { enter(.unhealthy, at: now) }
            guard missedProbes >= policy.missesBeforeRestart else { return .none }
            let detail = if case .down(let why) = observation { why } else { "reports loading" }
            let reason = "stopped answering /health (\(missedProbes) misses; last: \(detail))"
            terminationReason = reason
            return .terminate(reason: reason, graceful: false)

        case (.starting, .startTimedOut(let limit)), (.restarting, .startTimedOut(let limit)):
            let reason = "not Ready within the start timeout of \(limit)"
            terminationReason = reason
            return .terminate(reason: reason, graceful: false)

        case (.starting, .exited(let how, let tail)), (.restarting, .exited(let how, let tail)),
             (.ready, .exited(let how, let tail)), (.unhealthy, .exited(let how, let tail)):
            let reason = terminationReason.map { "\($0); \(how)" } ?? how
            return fail(reason, stderrTail: tail, at: now)

        case (.backoff, .backoffElapsed), (.failed, .backoffElapsed):
            restarts += 1
            enter(.restarting, at: now)
            return .spawn

        case (.starting, .stopRequested), (.restarting, .stopRequested), (.ready, .stopRequested),
             (.unhealthy, .stopRequested):
            enter(.stopping, at: now)
            return .terminate(reason: "stop requested", graceful: true)

        case (.backoff, .stopRequested), (.failed, .stopRequested), (.stopped, .stopRequested):
            enter(.stopped, at: now)
            return .stopped

        case (.stopping, .exited), (.stopping, .spawnFailed):
            enter(.stopped, at: now)
            return .stopped

        default:
            // Late events for a state that has moved on (a probe answering after an exit, a timer after a
            // stop) change nothing.
            return .none
        }
    }

    private mutating func fail(
        _ reason: String, stderrTail: [String], at now: ContinuousClock.Instant, permanent: Bool = false
    ) -> Action {
        if let readySince, let lastReadyAt, lastReadyAt - readySince >= policy.stablePeriod { consecutiveFailures = 0 }
        terminationReason = nil
        readySince = nil
        lastReadyAt = nil
        missedProbes = 0
        consecutiveFailures = permanent ? max(consecutiveFailures + 1, policy.crashLoopFailures) : consecutiveFailures + 1
        let tail = stderrTail.suffix(8).map(PrintableLine.sanitize).joined(separator: "\n")
        lastError = tail.isEmpty ? reason : "\(reason)\n\(tail)"
        if consecutiveFailures >= policy.crashLoopFailures {
            enter(.failed, at: now)
            return .scheduleRestart(after: policy.backoff.maximum)
        }
        enter(.backoff, at: now)
        return .scheduleRestart(after: policy.backoff.delay(afterFailures: consecutiveFailures))
    }

    private mutating func enter(_ next: State, at now: ContinuousClock.Instant) {
        if next != state { stateSince = now }
        state = next
    }
}
