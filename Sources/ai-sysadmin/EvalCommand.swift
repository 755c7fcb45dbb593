import ArgumentParser
import CommandSupport
import Foundation
import Monitoring
import SysadminConfiguration

/// `ai-sysadmin eval LOG --labels FILE`: Layer 1's judgment as numbers, for the model the operator runs — so
/// `qwen3:1b` and `qwen3:4b` can be compared as the trigger model on their own logs before switching.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run the trigger layer over a labelled log, as the daemon would, and report how its judgment compares with the labels.",
        discussion: """
            LABELS names the entries that deserve an event and how grave (CSV `line,label[,note]` or JSONL \
            {"line": N, "label": "..."}; labels: normal, info, alert, warning, error, critical); entries it does \
            not name are normal. `line` is the entry's line in the log (1-based) for syslog and journalctl -o json \
            dumps, its entry number for -o export dumps. Reports recall of the incidents, recall at their labelled \
            severity, precision and the false-positive rate on normal entries, per line and per template (a \
            template is an incident when any of its lines is), the model calls, the time, and the first entries \
            judged wrong. Error-rate events are about bursts, not lines: counted apart.
            """)

    @Argument(help: ArgumentHelp("The log dump (journalctl -o json / -o export, or syslog).", valueName: "log"))
    var log: String

    @Option(name: .long, help: ArgumentHelp("What each entry deserves.", valueName: "file"))
    var labels: String

    @OptionGroup var layerOne: TriggerModelOptions

    @Option(name: .long, help: "How many wrong entries to list.")
    var show = 20

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let program = "ai-sysadmin eval"
        guard show >= 0 else { throw CommandSupport.fail(program, ["--show must not be negative, got \(show)"]) }
        let expected: JudgmentLabels
        do {
            expected = try JudgmentLabels(parsing: try String(contentsOfFile: labels, encoding: .utf8))
        } catch let invalid as JudgmentLabels.Invalid {
            throw CommandSupport.fail(program, ["\(labels) \(invalid)"])
        } catch {
            throw CommandSupport.fail(program, ["cannot read \(labels): \(error.localizedDescription)"])
        }
        let configuration = try layerOne.configuration(program)
        let classifier = try await layerOne.classifier(configuration, program)
        let reader = try TriggerModelOptions.reader(log, program)

        var replay: LogReplay
        do {
            replay = try LogReplay(monitoring: configuration.monitoring, batch: layerOne.batch, classifier: classifier, numbersRecords: true)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        var score = JudgmentScore(keepMistakes: show)
        // The gravest event of each entry, by its number: its severity and source only, so a model that flags most
        // of a large log does not keep every message.
        var events: [Int: JudgmentScore.Flag] = [:]
        let started = ContinuousClock.now
        try await replay.run(reader, source: log) { commit in
            for event in commit.events {
                guard let line = event.position.flatMap(Int.init) else {
                    score.recordBurst()
                    continue
                }
                if events[line].map({ event.severity > $0.severity }) ?? true { events[line] = JudgmentScore.Flag(event) }
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let statistics = replay.machine.statistics

        // Template ids again, line by line: the miner is deterministic, so a fresh one over the same lines numbers
        // them as the replay's did (outside the timing).
        var miner = TemplateMiner()
        var second = try TriggerModelOptions.reader(log, program)
        var unlabelled = Set(expected.expected.keys)
        while let record = second.next() {
            let line = second.recordNumber
            unlabelled.remove(line)
            score.record(line: line, templateID: miner.add(record.message).id, message: record.message,
                         expected: expected.expected[line] ?? .normal, event: events[line])
        }
        score.finish()
        guard unlabelled.isEmpty else {
            let lines = unlabelled.sorted()
            throw CommandSupport.fail(program, [
                "\(labels) labels \(lines.count) entries \(log) does not have (or that are no log entry: a blank line, an unreadable one): "
                    + lines.prefix(10).map(String.init).joined(separator: ", ") + (lines.count > 10 ? ", …" : ""),
            ])
        }
        for (id, reason) in replay.machine.failures.sorted(by: { $0.key < $1.key }) {
            FileHandle.standardError.write(Data("template #\(id) not classified: \(reason) — \(replay.machine.miner[id]?.text.prefix(120) ?? "")\n".utf8))
        }

        let report = Report(log: log, labels: labels, format: reader.format.rawValue, model: classifier == nil ? nil : modelName(configuration),
                            score: score, modelCalls: statistics.modelCalls, classificationFailures: statistics.classificationFailures,
                            templates: statistics.templates, seconds: seconds)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
    }

    /// What was asked, for the report: the URL given by hand, else the configuration's trigger model.
    private func modelName(_ configuration: DaemonConfiguration) -> String {
        layerOne.triggerURL ?? "\(configuration.models[.trigger].model) at \(configuration.baseURL(for: .trigger))"
    }

    struct Report: Encodable {
        let log: String
        let labels: String
        let format: String
        /// nil: the rules alone.
        let model: String?
        let score: JudgmentScore
        let modelCalls: Int
        let classificationFailures: Int
        let templates: Int
        let seconds: Double
        var modelCallsPer10kLines: Double { score.entries == 0 ? 0 : Double(modelCalls) * 10_000 / Double(score.entries) }

        enum CodingKeys: String, CodingKey {
            case log, labels, format, model, score, modelCalls, classificationFailures, templates, seconds, modelCallsPer10kLines
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(log, forKey: .log)
            try c.encode(labels, forKey: .labels)
            try c.encode(format, forKey: .format)
            try c.encode(model, forKey: .model)
            try c.encode(score, forKey: .score)
            try c.encode(modelCalls, forKey: .modelCalls)
            try c.encode(classificationFailures, forKey: .classificationFailures)
            try c.encode(templates, forKey: .templates)
            try c.encode(seconds, forKey: .seconds)
            try c.encode(modelCallsPer10kLines, forKey: .modelCallsPer10kLines)
        }

        var text: String {
            let lines = score.lines, templates = score.templates
            var out = [
                "\(score.entries) entries (\(format)), \(self.templates) templates, judged by \(model ?? "the rules alone (signatures, priority floor, rules, error rate)")",
                "",
                "                       lines                      templates",
                row("recall", lines.recall, templates.recall),
                row("at labelled severity", lines.severityRecall, templates.severityRecall),
                row("precision", lines.precision, templates.precision),
                row("false positives", lines.falsePositiveRate, templates.falsePositiveRate),
                "",
                "\(modelCalls) model calls (\(String(format: "%.1f", modelCallsPer10kLines)) per 10k lines), \(classificationFailures) classification failures, "
                    + "\(Int(seconds * 1000)) ms, \(score.burstEvents) error-rate events",
                "events by source: " + score.eventsBySource.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
            ]
            if score.mistakeCount > 0 {
                out.append("")
                out.append("\(score.mistakeCount) entries judged wrong\(score.mistakeCount > score.mistakes.count ? ", the first \(score.mistakes.count)" : ""):")
                for mistake in score.mistakes {
                    out.append("  line \(mistake.line)  \(mistake.kind.rawValue)  labelled \(mistake.label), got \(mistake.got ?? "no event"): \(mistake.message)")
                }
            }
            return out.joined(separator: "\n")
        }

        private func row(_ name: String, _ line: JudgmentScore.Rate, _ template: JudgmentScore.Rate) -> String {
            name.padding(toLength: 23, withPad: " ", startingAt: 0) + line.description.padding(toLength: 27, withPad: " ", startingAt: 0) + template.description
        }
    }
}
