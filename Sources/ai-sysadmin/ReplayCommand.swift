import ArgumentParser
import CommandSupport
import Foundation
import Monitoring
import MonitoringService
import Reasoning
import Store
import SysadminConfiguration
import UpstreamClient

/// `ai-sysadmin replay FILE`: Layer 1 over a log dump as fast as it goes, with the counts that tell how it
/// went — for trying a model on old logs, and for the benchmarks.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the trigger layer over a log file (journalctl -o json / -o export, or syslog) and print its counts.",
        discussion: """
            The trigger model is the configuration's (a running daemon's, for the managed backend), or \
            --trigger-url with --trigger-key-file; likewise the review and meta models. --review has the review \
            model review the replay's events; --analyze then has the meta model analyse what escalated (Layer 4, \
            with the read-only tools over the store), as the daemon would, and keeps the analysis in --store.
            """)

    @Argument(help: ArgumentHelp("The log dump.", valueName: "file"))
    var file: String

    @OptionGroup var layerOne: TriggerModelOptions

    @Option(name: .long, help: ArgumentHelp("A store (SQLite file) to start from and write to: templates and verdicts carry over between runs, events are kept.", valueName: "file"))
    var store: String?

    @Option(name: .customLong("verdict-days"), help: "How long a stored verdict is trusted before its template is asked about again.")
    var verdictDays = 7.0

    @Flag(name: .long, help: "After the replay, have the review model (Layer 3) review its events.")
    var review = false

    @Option(name: .customLong("review-url"), help: ArgumentHelp("The review model server, instead of the configuration's.", valueName: "url"))
    var reviewURL: String?

    @Option(name: .customLong("review-key-file"), help: ArgumentHelp("The key that server requires.", valueName: "file"))
    var reviewKeyFile: String?

    @Flag(name: .long, help: "After the review, if anything escalated, have the meta model (Layer 4) analyse it (implies --review).")
    var analyze = false

    @Option(name: .customLong("meta-url"), help: ArgumentHelp("The meta model server, instead of the configuration's.", valueName: "url"))
    var metaURL: String?

    @Option(name: .customLong("meta-key-file"), help: ArgumentHelp("The key that server requires.", valueName: "file"))
    var metaKeyFile: String?

    @Flag(name: .long, help: "Print the counts as JSON.")
    var json = false

    @Flag(name: .long, help: "Print every event (severity, template, summary, message).")
    var events = false

    func run() async throws {
        let program = "ai-sysadmin replay"
        let review = review || analyze
        let configuration = try layerOne.configuration(program)
        let classifier = try await layerOne.classifier(configuration, program)
        let reader = try TriggerModelOptions.reader(file, program)
        var database: SQLiteStore?
        var replay: LogReplay
        do {
            database = try store.map { try SQLiteStore(path: $0) }
            let miner = try database.map { TemplateMiner(restoring: try $0.templates()) } ?? TemplateMiner()
            replay = try LogReplay(monitoring: configuration.monitoring, batch: layerOne.batch, classifier: classifier, miner: miner,
                                   verdicts: try database?.verdicts(validAt: Date()) ?? [:])
        } catch {
            throw CommandSupport.fail(program, ["the store \(store ?? ""): \(error)"])
        }
        if !replay.machine.templatesWaiting.isEmpty, !json {
            FileHandle.standardError.write(Data("\(replay.machine.templatesWaiting.count) templates in the store have no verdict yet; they are asked about too\n".utf8))
        }
        let started = ContinuousClock.now
        var unstored = TriggerStateMachine.Commit()
        // The newest events, for the review's context (which keeps far fewer).
        var recent: [TriggerEvent] = []
        do {
            try await replay.run(reader, source: file) { commit in
                if events { commit.events.forEach { print(Self.describe($0)) } }
                if review {
                    recent += commit.events
                    if recent.count > 20_000 { recent.removeFirst(recent.count - 10_000) }
                }
                guard let database else { return }
                unstored.absorb(commit)
                if unstored.events.count >= 1000 {
                    try database.commit(unstored, at: Date(), verdictsValidFor: verdictDays * 86_400)
                    unstored = TriggerStateMachine.Commit()
                }
            }
            if let database { try database.commit(unstored, at: Date(), verdictsValidFor: verdictDays * 86_400) }
        } catch {
            throw CommandSupport.fail(program, ["the store \(store ?? ""): \(error)"])
        }
        let machine = replay.machine
        let elapsed = ContinuousClock.now - started
        for (id, reason) in machine.failures.sorted(by: { $0.key < $1.key }) {
            let template = machine.miner[id]?.text.prefix(120) ?? ""
            FileHandle.standardError.write(Data("template #\(id) not classified: \(reason) — \(template)\n".utf8))
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let counts = machine.statistics

        var outcome: ReviewOutcome?
        if review {
            let endpoint = try TriggerModelOptions.endpoint(.review, url: reviewURL, keyFile: reviewKeyFile, configuration, program: program)
            let reviewer = Reviewer(makeClient: {
                OpenAIClient(endpoint: endpoint, timeouts: .init(connect: .seconds(5), total: .seconds(600), idle: .seconds(120)))
            })
            // The daemon's review step, over this replay's events alone.
            let run = await ReviewService.review(with: reviewer, conclusions: [], events: recent, causes: nil,
                                                 metrics: "(a replay: this host's metrics do not apply)")
            switch run.result {
            case .success(let done):
                if let database {
                    do { try database.append(done, at: Date()) } catch { throw CommandSupport.fail(program, ["the store \(store ?? ""): \(error)"]) }
                }
                outcome = ReviewOutcome(review: done, failure: nil, modelCalls: run.modelCalls, contextTokens: run.contextTokens,
                                        budget: run.budget, droppedLines: run.droppedLines)
            case .failure(let failure):
                FileHandle.standardError.write(Data("review failed: \(failure.reason)\n".utf8))
                outcome = ReviewOutcome(review: nil, failure: failure.reason, modelCalls: run.modelCalls, contextTokens: run.contextTokens,
                                        budget: run.budget, droppedLines: run.droppedLines)
            }
        }

        // Layer 4, when something escalated: the review's reason, or Layer 1's escalating events.
        var analysisOutcome: StoredAnalysis?
        let escalation = outcome?.review.flatMap { $0.escalate ? "review: \($0.escalationReason)" : nil }
            ?? (counts.escalations > 0 ? "\(counts.escalations) escalating events in the replay of \(file)" : nil)
        if analyze, let escalation {
            let endpoint = try TriggerModelOptions.endpoint(.meta, url: metaURL, keyFile: metaKeyFile, configuration, program: program)
            let makeClient: @Sendable () -> OpenAIClient = {
                OpenAIClient(endpoint: endpoint, timeouts: .init(connect: .seconds(5), total: .seconds(600), idle: .seconds(120)))
            }
            // The tools read the store; without --store, a scratch one holding this replay's events.
            let toolStore: SQLiteStore
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ai-sysadmin-replay-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            do {
                if let database {
                    toolStore = database
                } else {
                    toolStore = try SQLiteStore(path: scratch + "/scratch.sqlite")
                    try toolStore.append(recent, processedAt: Date())
                }
            } catch {
                throw CommandSupport.fail(program, ["a scratch store for the analysis tools: \(error)"])
            }
            let analyst = Analyst(makeClient: makeClient, toolbox: HostToolbox(store: toolStore, systemd: nil))
            // The daemon's analysis step, over this replay's events alone.
            var stored = await AnalysisService.analyze(escalation, with: analyst, conclusions: [], events: recent, at: Date()) {
                try await makeClient().tokenize($0).count
            }
            if let failure = stored.failure { FileHandle.standardError.write(Data("analysis failed: \(failure)\n".utf8)) }
            if let database {
                do { stored.id = try database.append(stored) } catch { throw CommandSupport.fail(program, ["the store \(store ?? ""): \(error)"]) }
            }
            analysisOutcome = stored
        }

        if json {
            struct Output: Encodable {
                let format: String
                let statistics: TriggerStatistics
                let seconds: Double
                let review: ReviewOutcome?
                let analysis: StoredAnalysis?
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let data = try encoder.encode(Output(format: reader.format.rawValue, statistics: counts, seconds: seconds, review: outcome,
                                                 analysis: analysisOutcome))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("""
                \(counts.lines) lines (\(reader.format.rawValue)), \(counts.templates) templates, \(counts.modelCalls) model calls, \
                \(counts.cacheHits) cache hits, \(counts.events) events, \(counts.escalations) escalations, \
                \(counts.classificationFailures) classification failures, \(Int(seconds * 1000)) ms \
                (\(seconds > 0 ? Int(Double(counts.lines) / seconds) : 0) lines/s)
                """)
            if let done = outcome?.review {
                print("review: \(done.status.rawValue) — \(done.summary)\(done.escalate ? " (escalate: \(done.escalationReason))" : "")")
                for issue in done.issues { print("  issue [\(issue.severity.rawValue)] \(issue.description) \(issue.units.joined(separator: " "))") }
                for action in done.proposedActions { print("  proposed \(action.displayText)") }
            }
            if let stored = analysisOutcome {
                if let analysis = stored.analysis {
                    print("analysis (\(analysis.confidence.rawValue) confidence, \(stored.steps.count) tool steps): \(analysis.diagnosis)")
                    for action in analysis.actions { print("  proposed \(action.displayText)") }
                } else {
                    print("analysis failed after \(stored.steps.count) tool steps: \(stored.failure ?? "")")
                }
            }
        }
    }

    struct ReviewOutcome: Encodable {
        let review: Review?
        let failure: String?
        let modelCalls: Int
        let contextTokens: Int
        let budget: Int
        let droppedLines: Int
    }

    private static func describe(_ event: TriggerEvent) -> String {
        "\(event.severity.rawValue)\t\(event.category.rawValue)\t#\(event.templateID)\t\(event.source.rawValue)\t\(event.summary)\t\(event.record.message.prefix(200))"
    }
}
