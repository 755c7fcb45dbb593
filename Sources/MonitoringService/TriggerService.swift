import Foundation
import Logging
import Monitoring
import ServiceLifecycle
import Store
import Synchronization
import SysadminConfiguration
import Systemd
import UpstreamClient

/// Layer 1 inside the daemon: follows the journal and the configured log files, watches host metrics, and drives
/// ``TriggerStateMachine`` — performing what it asks (classify a batch, store a commit) and feeding back what
/// happens (lines read, verdicts, the trigger model's availability, time).
///
/// Reading never waits for the model: a classification runs in a task of its own and its answer comes back as an
/// event, while lines keep being read (those of templates without a verdict are held, bounded). The journal handle
/// lives on a thread of its own and the store is written on another, both off Swift's cooperative pool. A commit
/// writes events, templates, verdicts and each source's cursor in one transaction, and a cursor never passes a
/// held line: a crash or a restart neither loses a line nor judges one twice.
public struct TriggerService: Service {
    let configuration: DaemonConfiguration
    let store: any MonitoringStore
    let logger: Logger
    let pollInterval: Duration
    /// Whether the trigger model can be asked now: the supervisor's word.
    let triggerModel: @Sendable () -> TriggerStateMachine.ModelAvailability
    /// Where Layer 1's backlog is published for `ai-sysadmin status`.
    let backlog: BacklogBoard
    /// Told of each critical event once it is stored (notifications); must not block.
    let onCritical: @Sendable (TriggerEvent) -> Void
    /// Where failed units are read from (sd-bus); nil where there is no systemd.
    let systemd: (any SystemdManaging)?
    /// Other hosts' verdicts, asked before the trigger model (a fleet's); nil on a host alone.
    let sharedVerdicts: (any SharedVerdicts)?

    public init(configuration: DaemonConfiguration, store: any MonitoringStore, logger: Logger, pollInterval: Duration = .milliseconds(500),
                triggerModel: @escaping @Sendable () -> TriggerStateMachine.ModelAvailability, backlog: BacklogBoard = BacklogBoard(),
                systemd: (any SystemdManaging)? = nil, sharedVerdicts: (any SharedVerdicts)? = nil,
                onCritical: @escaping @Sendable (TriggerEvent) -> Void = { _ in }) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.pollInterval = pollInterval
        self.triggerModel = triggerModel
        self.backlog = backlog
        self.systemd = systemd
        self.sharedVerdicts = sharedVerdicts
        self.onCritical = onCritical
    }

    public func run() async throws {
        let settings = configuration.monitoring
        guard settings.enable else {
            logger.info("monitoring is off (monitoring.enable)")
            try await gracefulShutdown()
            return
        }
        if !settings.files.isEmpty {
            logger.info("following \(settings.files.count) log file(s)", metadata: ["ai.monitoring.files": "\(settings.files.joined(separator: ","))"])
        }
        let writer = DedicatedThread(name: "ai-sysadmin-layer1-store")
        defer { writer.stop() }
        let follower = try await Follower.start(self, writer: writer)
        await cancelWhenGracefulShutdown { await follower.follow() }
        await follower.finish()
    }

    /// The journal, when this host has one (or a directory of journal files is configured); said once when not.
    func openJournal(_ settings: MonitoringConfiguration, writer: DedicatedThread) async throws -> JournalFollower? {
        guard settings.journal else { return nil }
        guard settings.journalDirectory != nil || JournalReader.systemJournalExists else {
            let fallback = settings.files.isEmpty ? "no log source: only host metrics are watched (set monitoring.files)" : "following monitoring.files only"
            logger.warning("no systemd journal on this host (journald does not run and \(JournalReader.systemDirectories.joined(separator: " and ")) hold no journal files); \(fallback)")
            return nil
        }
        let source = settings.journalDirectory.map { "journal:\($0)" } ?? "journal"
        let store = self.store
        let cursor = try await writer.run { try store.cursor(for: source) }
        let journal = try await JournalFollower.open(directory: settings.journalDirectory, after: cursor)
        logger.info("following the journal", metadata: ["ai.monitoring.journal": "\(settings.journalDirectory ?? "system")",
                                                        "ai.monitoring.resumed": "\(journal.resumed)"])
        return journal
    }
}

/// The latest Layer 1 backlog, written by the service and read by the control socket.
public final class BacklogBoard: Sendable {
    private let latest = Mutex<MonitoringBacklog?>(nil)

    public init() {}

    public var current: MonitoringBacklog? { latest.withLock { $0 } }

    func publish(_ backlog: MonitoringBacklog) { latest.withLock { $0 = backlog } }
}

extension TriggerService {
    /// One run of Layer 1: its sources, its state machine, and the steps of each poll.
    actor Follower {
        let service: TriggerService
        let settings: MonitoringConfiguration
        let writer: DedicatedThread
        let journal: JournalFollower?
        let tailers: [FileTailer]
        let classifier: TriggerClassifier?
        var machine: TriggerStateMachine
        var sampler = MetricSampler()
        var metricTriggers: MetricTriggers
        var lastSample: ContinuousClock.Instant
        /// What the store could not take yet; written with the next commit.
        var unstored = TriggerStateMachine.Commit()
        var lastRetention = ContinuousClock.now - .seconds(3600)
        var classification: Task<Void, Never>?
        /// Classification answers, delivered by the task that asked.
        var answers: [(results: [Int: Result<Verdict, TriggerClassifier.Failure>], calls: Int, shared: Int)] = []
        let wakeups: AsyncStream<Void>
        let wake: AsyncStream<Void>.Continuation

        var logger: Logger { service.logger }

        init(service: TriggerService, writer: DedicatedThread, journal: JournalFollower?, tailers: [FileTailer], classifier: TriggerClassifier?,
             machine: TriggerStateMachine) {
            self.service = service
            self.settings = service.configuration.monitoring
            self.writer = writer
            self.journal = journal
            self.tailers = tailers
            self.classifier = classifier
            self.machine = machine
            let limits = settings.metrics
            metricTriggers = MetricTriggers(thresholds: .init(
                cpuPercent: limits.cpuPercent, memoryPercent: limits.memoryPercent, swapPercent: limits.swapPercent,
                diskPercent: limits.diskPercent, loadPerCPU: limits.loadPerCPU, samples: limits.samples))
            lastSample = .now - .seconds(limits.intervalSeconds)
            (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        }

        static func start(_ service: TriggerService, writer: DedicatedThread) async throws -> Follower {
            let settings = service.configuration.monitoring
            let store = service.store
            let (templates, verdicts, provisional, decidedAhead, fileCursors) = try await writer.run {
                (try store.templates(), try store.verdicts(validAt: Date()), try store.provisionalLines(), try store.decidedAhead(),
                 try settings.files.map { try store.cursor(for: "file:" + $0) })
            }
            let tailers = zip(settings.files, fileCursors).map { path, cursor in FileTailer(path: path, cursor: cursor.flatMap(FileTailer.Cursor.init)) }
            let journal = try await service.openJournal(settings, writer: writer)
            let configuration = service.configuration
            // Without a trigger model (models.trigger.enable false) lines are judged by the rules alone.
            let classifier = configuration.models.trigger.enable ? TriggerClassifier(makeClient: { configuration.client(for: .trigger) }) : nil
            // Validated by `config check` already; a rule that still fails to compile is a programming error here.
            let rules = try settings.rules.map(OperatorRule.init)
            let machine = TriggerStateMachine(
                settings: .init(batchSize: settings.templateBatch, flushAfter: .seconds(settings.flushSeconds), holdLimit: .seconds(settings.holdSeconds)),
                miner: TemplateMiner(restoring: templates), verdicts: verdicts, rules: rules, signatures: SignaturePack(overrides: settings.signatures),
                errorRate: ErrorRateTrigger(settings.errorRate), classifying: classifier != nil,
                provisional: provisional, decidedAhead: decidedAhead, at: .now)
            if !machine.templatesWaiting.isEmpty || !provisional.isEmpty {
                service.logger.notice("\(machine.templatesWaiting.count) templates wait for a verdict from an earlier run; \(provisional.count) lines decided by the rules alone wait to be judged again")
            }
            return Follower(service: service, writer: writer, journal: journal, tailers: tailers, classifier: classifier, machine: machine)
        }

        /// Polls until cancelled: every `pollInterval`, and at once when a classification answers.
        func follow() async {
            let (wake, interval) = (self.wake, service.pollInterval)
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.yield()
                }
            }
            defer { ticker.cancel() }
            var availability: TriggerStateMachine.ModelAvailability?
            for await _ in wakeups where !Task.isCancelled {
                var actions: [TriggerStateMachine.Action] = []
                let delivered = answers
                answers.removeAll()
                for answer in delivered {
                    actions += machine.handle(.classified(answer.results, modelCalls: answer.calls, sharedVerdicts: answer.shared), at: .now)
                }
                let current = service.triggerModel()
                if current != availability {
                    availability = current
                    actions += machine.handle(.model(current), at: .now)
                }
                actions += await readSources()
                unstored.events += await sampleMetrics()
                actions += machine.handle(.tick, at: .now)
                await perform(actions)
                await retainIfDue()
                service.backlog.publish(machine.backlog(at: .now))
            }
        }

        /// On shutdown: what was decided is stored; held lines stay before their sources' cursors and are read again.
        func finish() async {
            classification?.cancel()
            await perform(machine.handle(.tick, at: .now))
            await journal?.close()
        }

        // MARK: Steps

        /// Reads what the sources have now, bounded per poll so a flood is worked off between metric samples and
        /// store writes.
        func readSources() async -> [TriggerStateMachine.Action] {
            var actions: [TriggerStateMachine.Action] = []
            if let journal {
                for (record, cursor) in await journal.read(limit: 20_000) {
                    actions += machine.handle(.read(record, source: journal.source, position: cursor), at: .now)
                }
            }
            for tailer in tailers {
                let readAt = Int64(Date().timeIntervalSince1970 * 1_000_000)
                for line in tailer.poll() {
                    var record = LogDumpReader.parseSyslog(line.bytes)
                    // A line followed as it is written happened about now; one without a time of its own (a classic
                    // syslog stamp has no year) gets the time it was read, so the error rate counts it.
                    if record.timestampMicroseconds == nil { record.timestampMicroseconds = readAt }
                    actions += machine.handle(.read(record, source: "file:" + tailer.path, position: line.end.description), at: .now)
                }
            }
            return actions
        }

        /// Host metrics and failed units, when their interval is due: events for the next commit.
        func sampleMetrics() async -> [TriggerEvent] {
            let limits = settings.metrics
            guard limits.enable, ContinuousClock.now - lastSample >= .seconds(limits.intervalSeconds) else { return [] }
            lastSample = .now
            var events: [TriggerEvent] = []
            if let sample = sampler.sample() {
                events += metricTriggers.observe(sample)
                let (store, readings) = (service.store, sample.named)
                do {
                    try await writer.run { try store.appendMetrics(readings, at: Date()) }
                } catch {
                    logger.error("the store failed to keep metrics: \(error)")
                }
            }
            if let systemd = service.systemd {
                do {
                    events += metricTriggers.observeFailedUnits(try await systemd.failedUnits())
                } catch {
                    logger.debug("cannot list failed units: \(error)")
                }
            }
            return events
        }

        func perform(_ actions: [TriggerStateMachine.Action]) async {
            for action in actions {
                switch action {
                case .classify(let batch):
                    classify(batch)
                case .store(let commit):
                    unstored.absorb(commit)
                }
            }
            await store()
        }

        /// Asks the fleet's shared verdicts, then the trigger model about the rest, in a task of its own; the answer
        /// wakes the loop, and what the model said is shared afterwards.
        func classify(_ batch: [TriggerStateMachine.TemplateRequest]) {
            guard let classifier else { return }
            logger.debug("classifying \(batch.count) templates")
            let shared = service.sharedVerdicts, logger = self.logger
            classification = Task {
                var results: [Int: Result<Verdict, TriggerClassifier.Failure>] = [:]
                if let shared {
                    let known = await shared.verdicts(for: batch.map(\.text))
                    for request in batch {
                        guard let verdict = known[request.text] else { continue }
                        switch classifier.validate(verdict) {
                        case .success(let valid): results[request.id] = .success(valid)
                        case .failure(let failure): logger.warning("a shared verdict was refused: \(failure.reason)")
                        }
                    }
                }
                let fromFleet = results.count
                let asked = batch.filter { results[$0.id] == nil }
                var calls = 0, learned: [String: Verdict] = [:]
                if !asked.isEmpty {
                    let answered = await classifier.classify(asked.map { (key: $0.id, text: $0.text) })
                    calls = answered.modelCalls
                    for request in asked {
                        results[request.id] = answered.results[request.id]
                        if case .success(let verdict)? = answered.results[request.id] { learned[request.text] = verdict }
                    }
                }
                self.deliver(results, calls: calls, shared: fromFleet)
                if let shared, !learned.isEmpty { await shared.share(learned) }
            }
        }

        func deliver(_ results: [Int: Result<Verdict, TriggerClassifier.Failure>], calls: Int, shared: Int) {
            answers.append((results, calls, shared))
            wake.yield()
        }

        /// Writes what waits in one transaction, on the store's thread; kept for the next attempt when the store fails.
        func store() async {
            guard !unstored.isEmpty else { return }
            let (store, commit, validFor) = (service.store, unstored, settings.verdictDays * 86_400)
            do {
                try await writer.run { try store.commit(commit, at: Date(), verdictsValidFor: validFor) }
            } catch {
                logger.error("the store failed: \(error); \(commit.events.count) events are kept for the next attempt")
                return
            }
            unstored = TriggerStateMachine.Commit()
            for event in commit.events where event.severity == .critical { service.onCritical(event) }
            for event in commit.events where event.escalate {
                logger.warning("\(event.summary)", metadata: [
                    "ai.event.severity": "\(event.severity.rawValue)", "ai.event.category": "\(event.category.rawValue)",
                    "ai.event.unit": "\(event.record.unit ?? event.record.identifier ?? "-")", "ai.event.source": "\(event.source)",
                ])
            }
        }

        /// Deletes events and metric readings past their retention, once an hour.
        func retainIfDue() async {
            guard ContinuousClock.now - lastRetention >= .seconds(3600) else { return }
            lastRetention = .now
            let (store, days) = (service.store, settings.eventRetentionDays)
            let cutoff = Date().addingTimeInterval(-days * 86_400)
            do {
                let deleted = try await writer.run { try store.deleteEvents(olderThan: cutoff) + store.deleteMetrics(olderThan: cutoff) }
                if deleted > 0 { logger.info("retention deleted \(deleted) events and metric readings older than \(days) days") }
            } catch {
                logger.error("retention failed: \(error)")
            }
        }
    }
}
