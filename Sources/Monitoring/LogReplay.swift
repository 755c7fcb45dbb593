import Foundation
import SysadminConfiguration

/// Layer 1 over a log dump, as fast as it goes: the daemon's state machine with the daemon's rules, signatures and
/// error-rate trigger, a classification awaited where the daemon would run it in the background, and every
/// commit handed on. What `ai-sysadmin replay` and `ai-sysadmin eval` run.
public struct LogReplay {
    public private(set) var machine: TriggerStateMachine
    let classifier: TriggerClassifier?
    /// Whether each record's place in the dump (`LogDumpReader.recordNumber`) goes with its events as their position,
    /// for `eval`.
    let numbersRecords: Bool

    /// - Parameters:
    ///   - verdicts, miner: a store's, to continue from; templates without a valid verdict are asked about too.
    public init(monitoring: MonitoringConfiguration, batch: Int, classifier: TriggerClassifier?, miner: TemplateMiner = TemplateMiner(),
                verdicts: [Int: Verdict] = [:], numbersRecords: Bool = false) throws(OperatorRule.Invalid) {
        // Lines wait for their templates' verdicts until the input ends, however slow the model; a replay keeps no
        // provisional lines and no cursors (it has no source to hold back).
        machine = TriggerStateMachine(
            settings: .init(batchSize: batch, holdLimit: .seconds(365 * 86_400), keepsProvisional: false, tracksCursors: false),
            miner: miner, verdicts: verdicts, rules: try monitoring.rules.map(OperatorRule.init),
            signatures: SignaturePack(overrides: monitoring.signatures), errorRate: ErrorRateTrigger(monitoring.errorRate),
            classifying: classifier != nil, availability: .ready, at: .now)
        self.classifier = classifier
        self.numbersRecords = numbersRecords
    }

    /// Feeds every record of `reader`, then asks about what is left until nothing more can be learnt, and decides
    /// the rest by the rules. `commit` receives what the daemon would store, in order.
    public mutating func run(_ reader: LogDumpReader, source: String, commit: (TriggerStateMachine.Commit) throws -> Void) async throws {
        var reader = reader
        var count = 0
        while let record = reader.next() {
            count += 1
            let position = numbersRecords ? String(reader.recordNumber) : ""
            try await perform(machine.handle(.read(record, source: source, position: position), at: .now), commit)
            if count % 1000 == 0 { try await perform(machine.handle(.tick, at: .now), commit) }
        }
        while true {
            let actions = machine.handle(.inputEnded, at: .now)
            try await perform(actions, commit)
            if !actions.contains(where: { if case .classify = $0 { true } else { false } }) { break }
        }
    }

    private mutating func perform(_ actions: [TriggerStateMachine.Action], _ commit: (TriggerStateMachine.Commit) throws -> Void) async throws {
        var queue = actions
        while !queue.isEmpty {
            switch queue.removeFirst() {
            case .classify(let batch):
                guard let classifier else { continue }
                let (results, calls) = await classifier.classify(batch.map { (key: $0.id, text: $0.text) })
                queue += machine.handle(.classified(results, modelCalls: calls), at: .now)
            case .store(let stored):
                try commit(stored)
            }
        }
    }
}
