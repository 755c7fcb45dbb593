import Foundation
import Logging
import Monitoring
import Reasoning
import ServiceLifecycle
import Store
import SysadminConfiguration
import Systemd
import UpstreamClient

/// Layer 3 in the daemon: reviews the events since the last review every `intervalSeconds`, and soon after an
/// escalating event (`escalationDelaySeconds`, so a burst gives one review). It reads what Layer 1 stored, so the
/// two never wait for each other; a review model that is not Ready postpones the review, it is not skipped.
public struct ReviewService: Service {
    let configuration: DaemonConfiguration
    let store: any MonitoringStore
    let logger: Logger
    let pollInterval: Duration
    /// Where the review's proposed actions go (the executor); `source` names the review, e.g. `review 12`.
    let proposals: @Sendable (_ actions: [Review.ProposedAction], _ source: String) async -> Void

    /// Failed units for the review's input; nil where there is no systemd.
    let systemd: (any SystemdManaging)?
    /// Told when a review asks for a deeper analysis (Layer 4).
    let escalate: @Sendable (_ reason: String) async -> Void
    /// The review server's slots: a review after an escalation goes before a periodic one.
    let slots: ModelSlots

    public init(configuration: DaemonConfiguration, store: any MonitoringStore, logger: Logger, pollInterval: Duration = .seconds(1),
                systemd: (any SystemdManaging)? = nil, slots: ModelSlots? = nil,
                proposals: @escaping @Sendable (_ actions: [Review.ProposedAction], _ source: String) async -> Void = { _, _ in },
                escalate: @escaping @Sendable (_ reason: String) async -> Void = { _ in }) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.pollInterval = pollInterval
        self.proposals = proposals
        self.systemd = systemd
        self.escalate = escalate
        self.slots = slots ?? ModelSlots(capacity: configuration.models.review.parallel)
    }

    public func run() async throws {
        let settings = configuration.monitoring
        guard settings.enable, settings.review.enable, configuration.models.review.enable else {
            try await gracefulShutdown()
            return
        }
        try await cancelWhenGracefulShutdown { try await loop(settings.review) }
    }

    private func loop(_ settings: MonitoringConfiguration.Review) async throws {
        let configuration = configuration
        let makeClient: @Sendable () -> OpenAIClient = { configuration.client(for: .review) }
        let reviewer = Reviewer(makeClient: makeClient)
        var lastReview = Self.reviewStart(store)
        var nextScheduled = ContinuousClock.now + .seconds(settings.intervalSeconds)
        var escalatedAt: ContinuousClock.Instant?
        var sampler = MetricSampler()
        while !Task.isCancelled {
            // Checked every poll with one indexed query; the events themselves are read only for a review.
            if escalatedAt == nil, (try? store.hasEscalation(since: lastReview)) == true { escalatedAt = .now }
            let escalationDue = escalatedAt.map { ContinuousClock.now - $0 >= .seconds(settings.escalationDelaySeconds) } ?? false
            if escalationDue || ContinuousClock.now >= nextScheduled {
                if case .ready = await makeClient().health() {
                    let started = Date()
                    let causes = escalationDue ? Self.escalationCauses((try? store.events(since: lastReview, limit: 20_000)) ?? []) : nil
                    var metrics = Self.describe(sampler.sample())
                    if let systemd, let failed = try? await systemd.failedUnits() {
                        metrics += "\nfailed systemd units: " + (failed.isEmpty ? "none" : failed.joined(separator: ", "))
                    }
                    let (conclusions, events) = (RecentContext.conclusionLines(store), RecentContext.events(store, since: lastReview))
                    let result = await Self.review(with: reviewer, conclusions: conclusions, events: events, causes: causes, metrics: metrics,
                                                   slot: (slots, escalationDue ? .escalation : .periodic)).result
                    switch result {
                    case .success(let review):
                        do {
                            let id = try store.append(review, at: started)
                            logger.info("review: \(review.status.rawValue): \(review.summary)", metadata: [
                                "ai.review.escalate": "\(review.escalate)", "ai.review.issues": "\(review.issues.count)",
                                "ai.review.proposals": "\(review.proposedActions.count)",
                            ])
                            if !review.proposedActions.isEmpty { await proposals(review.proposedActions, "review \(id)") }
                            if review.escalate {
                                let reason = review.escalationReason.isEmpty ? review.summary : review.escalationReason
                                await escalate("review \(id): \(reason)" + (causes.map { " (Layer 1 escalated because of: \($0))" } ?? ""))
                            }
                        } catch {
                            logger.error("the store failed to keep a review: \(error)")
                        }
                    case .failure(let failure):
                        logger.warning("the review failed: \(failure.reason)")
                    }
                    lastReview = started
                    escalatedAt = nil
                    nextScheduled = .now + .seconds(settings.intervalSeconds)
                }
            }
            try? await Task.sleep(for: pollInterval)
        }
    }

    /// One review as the daemon makes it and `replay --review` makes it once: the context window within the review
    /// server's budget (counted with its tokenizer), what made Layer 1 escalate first, then the reviewer — holding a
    /// slot of the review server for its requests when `slot` names the daemon's slots.
    public static func review(with reviewer: Reviewer, conclusions: [String], events: [TriggerEvent], causes: String?,
                              metrics: String, slot: (slots: ModelSlots, priority: RequestPriority)? = nil) async -> ReviewRun {
        let budget = await reviewer.contextBudget()
        let window = await RecentContext.render(conclusions: conclusions, events: events, budget: budget) { await reviewer.tokens($0) }
        let context = (causes.map { "Layer 1 escalated because of: \($0)\n\n" } ?? "") + window.text
        let (result, calls) = if let slot {
            await slot.slots.withSlot(slot.priority) { await reviewer.review(context: context, metrics: metrics) }
        } else {
            await reviewer.review(context: context, metrics: metrics)
        }
        return ReviewRun(result: result, modelCalls: calls, contextTokens: window.tokens, budget: budget, droppedLines: window.dropped)
    }

    /// A review and what it took.
    public struct ReviewRun: Sendable {
        public var result: Result<Review, Reviewer.Failure>
        public var modelCalls: Int
        public var contextTokens: Int
        public var budget: Int
        public var droppedLines: Int
    }

    /// What made Layer 1 escalate, by what set each event's severity: `signature oom-killer ×3 (the host ran out of
    /// memory…), error burst ×1 (…)`; nil when nothing escalated.
    public static func escalationCauses(_ events: [StoredEvent]) -> String? {
        var causes: [(source: String, count: Int, summary: String)] = []
        for event in events where event.escalate {
            let source = TriggerEvent.Source(rawValue: event.source).map { source in
                if case .signature(let id) = source { "signature \(id)" } else { source.rawValue }
            } ?? "model"
            if let index = causes.firstIndex(where: { $0.source == source }) {
                causes[index].count += 1
            } else {
                causes.append((source, 1, String(event.summary.prefix(120))))
            }
        }
        guard !causes.isEmpty else { return nil }
        return causes.prefix(8).map { "\($0.source) ×\($0.count) (\($0.summary))" }.joined(separator: ", ")
    }

    /// Where the first review's events begin: after the last stored review (a restart loses no events to the
    /// window), at most a day back; now when there was none.
    public static func reviewStart(_ store: any MonitoringStore, now: Date = Date()) -> Date {
        guard let last = (try? store.reviews(limit: 1))?.first?.time else { return now }
        return max(last, now.addingTimeInterval(-86_400))
    }

    static func describe(_ sample: MetricSample?) -> String {
        guard let sample else { return "(unavailable)" }
        var lines = [
            "memory \(Int(sample.memoryPercent))% used", "load per CPU \((sample.loadPerCPU * 100).rounded() / 100)",
        ]
        if let cpu = sample.cpuPercent { lines.insert("cpu \(Int(cpu))% busy", at: 0) }
        if let swap = sample.swapPercent { lines.append("swap \(Int(swap))% used") }
        for (mount, percent) in sample.diskPercent.sorted(by: { $0.key < $1.key }) { lines.append("disk \(mount) \(Int(percent))% used") }
        return lines.joined(separator: "\n")
    }
}
