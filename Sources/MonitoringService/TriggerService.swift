import Foundation
import Logging
import ModelSupervisor
import Monitoring
import ServiceLifecycle
import Store
import UpstreamClient

/// Layer 1 inside the daemon: follows the journal and the configured log files, mines templates, asks the trigger model about
/// new ones (when it is Ready) and stores events, templates, verdicts and each file's position.
///
/// The journal's cursor and each file's position are stored only when no line read from it still waits for a verdict, so a crash or a
/// restart neither loses a line nor judges one twice. It runs on its own task: monitoring never waits for
/// another layer, and a model that is loading only delays verdicts, not reading.
public struct TriggerService: Service {
    let configuration: DaemonConfiguration
    let store: any MonitoringStore
    let logger: Logger
    let pollInterval: Duration
    /// Told of each critical event once it is stored (notifications); must not block.
    let onCritical: @Sendable (TriggerEvent) -> Void
    /// Where failed units are read from (sd-bus); nil where there is no systemd.
    let systemd: (any SystemdManaging)?

    public init(configuration: DaemonConfiguration, store: any MonitoringStore, logger: Logger, pollInterval: Duration = .milliseconds(500),
                systemd: (any SystemdManaging)? = nil, onCritical: @escaping @Sendable (TriggerEvent) -> Void = { _ in }) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.pollInterval = pollInterval
        self.systemd = systemd
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
        try await cancelWhenGracefulShutdown { try await watch(settings) }
    }

    /// The journal, when this host has one (or a directory of journal files is configured); said once when not.
    private func openJournal(_ settings: MonitoringConfiguration) throws -> JournalReader? {
        guard settings.journal else { return nil }
        guard settings.journalDirectory != nil || JournalReader.systemJournalExists else {
            let fallback = settings.files.isEmpty ? "no log source: only host metrics are watched (set monitoring.files)" : "following monitoring.files only"
            logger.warning("no systemd journal on this host (journald does not run and \(JournalReader.systemDirectories.joined(separator: " and ")) hold no journal files); \(fallback)")
            return nil
        }
        let source = settings.journalDirectory.map { "journal:\($0)" } ?? "journal"
        let reader = try JournalReader(directory: settings.journalDirectory, after: try store.cursor(for: source))
        logger.info("following the journal", metadata: ["ai.monitoring.journal": "\(settings.journalDirectory ?? "system")",
                                                        "ai.monitoring.resumed": "\(reader.cursor != nil)"])
        return reader
    }

    private func watch(_ settings: MonitoringConfiguration) async throws {
        let tailers = try settings.files.map { path in
            FileTailer(path: path, cursor: try store.cursor(for: "file:" + path).flatMap(FileTailer.Cursor.init))
        }
        let journal = try openJournal(settings)
        var known = try store.verdicts(validAt: Date())
        let configuration = configuration
        let makeClient: @Sendable () -> OpenAIClient = { configuration.client(for: .trigger) }
        // Validated by `config check` already; a rule that still fails to compile is a programming error here.
        let rules = try settings.rules.map(OperatorRule.init)
        // Without a trigger model (models.trigger.enable false) lines are judged by the rules alone.
        let classifier = configuration.models.trigger.enable ? TriggerClassifier(makeClient: makeClient) : nil
        var pipeline = TriggerPipeline(classifier: classifier, miner: TemplateMiner(restoring: try store.templates()),
                                       verdicts: known, batchSize: settings.templateBatch, rules: rules)
        var waitingSince: ContinuousClock.Instant?
        var lastRetention = ContinuousClock.now - .seconds(3600)
        var sampler = MetricSampler()
        let limits = settings.metrics
        var metricTriggers = MetricTriggers(thresholds: .init(
            cpuPercent: limits.cpuPercent, memoryPercent: limits.memoryPercent, swapPercent: limits.swapPercent,
            diskPercent: limits.diskPercent, loadPerCPU: limits.loadPerCPU, samples: limits.samples))
        var lastSample = ContinuousClock.now - .seconds(limits.intervalSeconds)
        // Events not yet in the store (it failed): kept and written with the next batch.
        var events: [TriggerEvent] = []

        while !Task.isCancelled {
            var processed = 0
            // Bounded per poll, so a flood (100k lines a minute) is worked off between metric samples and store writes.
            for (record, _) in journal?.read(limit: 20_000) ?? [] {
                events += await pipeline.process(record)
                processed += 1
            }
            for tailer in tailers {
                for line in tailer.poll() {
                    events += await pipeline.process(LogDumpReader.parseSyslog(line))
                    processed += 1
                }
            }
            if limits.enable, ContinuousClock.now - lastSample >= .seconds(limits.intervalSeconds) {
                lastSample = .now
                if let sample = sampler.sample() {
                    events += metricTriggers.observe(sample)
                    do { try store.appendMetrics(sample.named, at: Date()) } catch { logger.error("the store failed to keep metrics: \(error)") }
                }
                if let systemd {
                    do {
                        events += metricTriggers.observeFailedUnits(try await systemd.failedUnits())
                    } catch {
                        logger.debug("cannot list failed units: \(error)")
                    }
                }
            }
            if pipeline.hasWaiting {
                waitingSince = waitingSince ?? .now
                if ContinuousClock.now - waitingSince! >= .seconds(settings.flushSeconds) {
                    if case .ready = await makeClient().health() {
                        events += await pipeline.flush()
                    } else if ContinuousClock.now - waitingSince! >= .seconds(60) {
                        // The model has been away a minute: judge the lines by the rules, ask about their
                        // templates once it is back.
                        events += pipeline.decideWithoutModel()
                    }
                }
            }
            if !pipeline.hasWaiting { waitingSince = nil }
            do {
                try store.append(events, processedAt: Date())
                for event in events where event.severity == .critical { onCritical(event) }
                for event in events where event.escalate {
                    logger.warning("\(event.summary)", metadata: [
                        "ai.event.severity": "\(event.severity.rawValue)", "ai.event.category": "\(event.category.rawValue)",
                        "ai.event.unit": "\(event.record.unit ?? event.record.identifier ?? "-")",
                    ])
                }
                let decided = pipeline.verdicts.filter { known[$0.key] == nil }
                if !decided.isEmpty || processed > 0 {
                    try store.save(templates: pipeline.miner.templates, verdicts: decided, decidedAt: Date(),
                                   validFor: settings.verdictDays * 86_400)
                    known.merge(decided) { _, new in new }
                }
                events.removeAll(keepingCapacity: true)
                if !pipeline.hasWaiting {
                    for tailer in tailers {
                        if let cursor = tailer.cursor { try store.setCursor(cursor.description, for: "file:" + tailer.path) }
                    }
                    if let journal, let cursor = journal.cursor { try store.setCursor(cursor, for: journal.source) }
                }
                if ContinuousClock.now - lastRetention >= .seconds(3600) {
                    let cutoff = Date().addingTimeInterval(-settings.eventRetentionDays * 86_400)
                    let deleted = try store.deleteEvents(olderThan: cutoff) + store.deleteMetrics(olderThan: cutoff)
                    if deleted > 0 { logger.info("retention deleted \(deleted) events and metric readings older than \(settings.eventRetentionDays) days") }
                    lastRetention = .now
                }
            } catch {
                logger.error("the store failed: \(error); \(events.count) events are kept for the next attempt")
            }
            try? await Task.sleep(for: pollInterval)
        }
    }
}
