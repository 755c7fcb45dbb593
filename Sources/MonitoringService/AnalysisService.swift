import Foundation
import Logging
import Monitoring
import Reasoning
import ServiceLifecycle
import Store
import SysadminConfiguration
import UpstreamClient

/// Layer 4 in the daemon: on escalation, the meta model investigates with read-only tools and concludes. At most
/// one analysis runs at a time; escalations that arrive meanwhile are merged into the next one. The analysis is
/// stored (finished or failed, with its tool steps), its actions go to the executor, and its knowledge note to
/// the knowledge base. A meta model that is not Ready postpones the analysis; it is not dropped.
public actor AnalysisService: Service {
    let configuration: DaemonConfiguration
    let store: any MonitoringStore
    let toolbox: any AnalysisToolbox
    let logger: Logger
    let proposals: @Sendable (_ actions: [Review.ProposedAction], _ source: String) async -> Void
    let slots: ModelSlots
    let knowledge: KnowledgeBase
    private var pending: [String] = []
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>

    public init(configuration: DaemonConfiguration, store: any MonitoringStore, toolbox: any AnalysisToolbox, logger: Logger,
                slots: ModelSlots? = nil, knowledge: KnowledgeBase? = nil,
                proposals: @escaping @Sendable (_ actions: [Review.ProposedAction], _ source: String) async -> Void) {
        self.knowledge = knowledge ?? KnowledgeBase(store: store)
        self.slots = slots ?? ModelSlots(capacity: configuration.models.meta.parallel)
        self.configuration = configuration
        self.store = store
        self.toolbox = toolbox
        self.logger = logger
        self.proposals = proposals
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// One analysis as the daemon makes it and `replay --analyze` makes it once: the context window in half the meta
    /// server's budget (the tool steps need the rest), counted with its tokenizer (`tokenize`; an estimate when that
    /// fails), then the analyst; the result is what the store keeps, finished or failed, with its steps.
    public static func analyze(_ escalation: String, with analyst: Analyst, conclusions: [String], events: [TriggerEvent], at started: Date,
                               tokenize: @escaping @Sendable (String) async throws -> Int) async -> StoredAnalysis {
        let budget = await analyst.contextBudget()
        let window = await RecentContext.render(conclusions: conclusions, events: events, budget: budget / 2) { text in
            (try? await tokenize(text)) ?? (text.utf8.count / 3 + 1)
        }
        let (result, steps) = await analyst.analyze(escalation: escalation, context: window.text)
        return StoredAnalysis(time: started, escalation: escalation, analysis: try? result.get(),
                              failure: { if case .failure(let failure) = result { failure.reason } else { nil } }(),
                              steps: steps.map { StoredAnalysis.Step(tool: $0.tool, arguments: $0.arguments, result: $0.result) })
    }

    /// Asks for an analysis of `escalation`; merged with any others waiting.
    public func request(_ escalation: String) {
        guard pending.count < 20 else { return logger.warning("escalations pile up while an analysis runs; merged into the next") }
        pending.append(String(escalation.prefix(500)))
        wake.yield()
    }

    public func run() async throws {
        guard configuration.models.meta.enable else {
            try await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await self.loop() }
    }

    private func loop() async {
        let configuration = configuration
        let analyst = Analyst(makeClient: { configuration.client(for: .meta) }, toolbox: toolbox, slots: slots)
        for await _ in wakeups {
            while !pending.isEmpty, !Task.isCancelled {
                guard case .ready = await configuration.client(for: .meta).health() else {
                    try? await Task.sleep(for: .seconds(5))
                    continue
                }
                let escalation = pending.joined(separator: "; ")
                pending.removeAll()
                await analyze(escalation, with: analyst)
            }
        }
    }

    private func analyze(_ escalation: String, with analyst: Analyst) async {
        let started = Date()
        logger.notice("analysis started", metadata: ["ai.analysis.escalation": "\(escalation.prefix(200))"])
        let configuration = configuration
        let stored = await Self.analyze(escalation, with: analyst, conclusions: RecentContext.conclusionLines(store),
                                        events: RecentContext.events(store, since: started.addingTimeInterval(-3600)), at: started) {
            try await configuration.client(for: .meta).tokenize($0).count
        }
        let id: Int64
        do {
            id = try store.append(stored)
        } catch {
            return logger.error("the store failed to keep an analysis: \(error)")
        }
        if let analysis = stored.analysis {
            logger.notice("analysis \(id): \(analysis.diagnosis)", metadata: [
                "ai.analysis.confidence": "\(analysis.confidence.rawValue)", "ai.analysis.steps": "\(stored.steps.count)",
                "ai.analysis.actions": "\(analysis.actions.count)"])
            if !analysis.knowledgeNote.trimmingCharacters(in: .whitespaces).isEmpty {
                _ = try? await knowledge.add(title: "Analysis \(id): \(analysis.diagnosis.prefix(80))", body: analysis.knowledgeNote,
                                             tags: ["analysis"], at: started)
            }
            if !analysis.actions.isEmpty { await proposals(analysis.actions, "analysis \(id)") }
        } else {
            logger.warning("analysis \(id) failed: \(stored.failure ?? "")")
        }
    }
}
