import Foundation
import SysadminConfiguration
import Testing
@testable import Monitoring

/// Layer 1's state machine without a model, a clock or a store: events in, actions out.
@Suite struct TriggerStateMachineTests {
    let start = ContinuousClock.now
    let settings = TriggerStateMachine.Settings(batchSize: 2, flushAfter: .seconds(2), holdLimit: .seconds(60), maximumHeld: 100,
                                                retry: .init(initial: .seconds(5), maximum: .seconds(40)))
    let error = Verdict(severity: .error, category: .service, escalate: false, summary: "a job failed")
    let quiet = Verdict(severity: .info, category: .other, escalate: false, summary: "routine")

    func at(_ seconds: Double) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    func machine(verdicts: [Int: Verdict] = [:], miner: TemplateMiner = TemplateMiner(), provisional: [TriggerStateMachine.ProvisionalLine] = [],
                 ready: Bool = true) -> TriggerStateMachine {
        TriggerStateMachine(settings: settings, miner: miner, verdicts: verdicts, classifying: true, provisional: provisional,
                            availability: ready ? .ready : .unavailable("loading"), at: start)
    }

    func classified(_ actions: [TriggerStateMachine.Action]) -> [TriggerStateMachine.TemplateRequest]? {
        for action in actions { if case .classify(let batch) = action { return batch } }
        return nil
    }

    func commit(_ actions: [TriggerStateMachine.Action]) -> TriggerStateMachine.Commit? {
        for action in actions { if case .store(let commit) = action { return commit } }
        return nil
    }

    @discardableResult
    func read(_ machine: inout TriggerStateMachine, _ message: String, source: String = "file:/a", position: String, at time: Double)
        -> [TriggerStateMachine.Action] {
        machine.handle(.read(LogRecord(message: message), source: source, position: position), at: at(time))
    }

    @Test func linesWaitForTheirVerdictAndTheCursorNeverPassesAHeldLine() throws {
        var machine = machine(verdicts: [:])
        #expect(read(&machine, "backup job 1 failed with code 3", position: "1", at: 0).isEmpty, "one template does not fill a batch")
        let tick = machine.handle(.tick, at: at(1))
        #expect(classified(tick) == nil && commit(tick)?.cursors.isEmpty == true, "the cursor stays before the held line")
        let batch = try #require(classified(read(&machine, "disk sda is 97% full", position: "2", at: 1.5)), "a full batch goes at once")
        #expect(batch.map(\.id) == [1, 2])
        // Reading goes on while the batch is out: a line of a held template is held too.
        read(&machine, "backup job 2 failed with code 3", position: "3", at: 2)
        #expect(commit(machine.handle(.tick, at: at(2)))?.cursors.isEmpty ?? true)
        let answer = machine.handle(.classified([1: .success(error), 2: .success(quiet)], modelCalls: 1), at: at(3))
        #expect(classified(answer) == nil)
        let stored = try #require(commit(machine.handle(.tick, at: at(3))))
        #expect(stored.events.map(\.record.message) == ["backup job 1 failed with code 3", "backup job 2 failed with code 3"])
        #expect(stored.events.allSatisfy { $0.source == .model && $0.summary == "a job failed" })
        #expect(stored.cursors == ["file:/a": "3"] && stored.verdicts.count == 2)
        #expect(machine.statistics.modelCalls == 1 && machine.statistics.events == 2)
    }

    @Test func aSecondSourceIsCommittedUpToItsOwnFirstHeldLine() throws {
        var miner = TemplateMiner()
        _ = miner.add("known line number 1")
        var machine = machine(verdicts: [1: quiet], miner: miner)
        read(&machine, "known line number 2", source: "journal", position: "j1", at: 0)
        read(&machine, "something new happened here", source: "journal", position: "j2", at: 0)
        read(&machine, "known line number 3", source: "journal", position: "j3", at: 0)
        read(&machine, "known line number 4", source: "file:/b", position: "b1", at: 0)
        let stored = try #require(commit(machine.handle(.tick, at: at(0.5))))
        #expect(stored.cursors == ["journal": "j1", "file:/b": "b1"])
        #expect(stored.decidedAhead == ["journal": ["j3"]], "a line decided behind a held one is written down")
        #expect(stored.events.map(\.record.message) == [], "the known template's verdict is quiet")
    }

    /// After a crash the lines past the cursor are read again: what was decided is not judged (nor counted) twice,
    /// what was held is held again, and the positions written down are given up once the cursor passes them.
    @Test func linesDecidedBeforeACrashAreNotJudgedTwice() throws {
        var miner = TemplateMiner()
        _ = miner.add("known line number 1")
        var machine = TriggerStateMachine(settings: settings, miner: miner, verdicts: [1: error], classifying: true,
                                          decidedAhead: ["journal": ["j3"]], availability: .ready, at: start)
        read(&machine, "something new happened here", source: "journal", position: "j2", at: 0)
        read(&machine, "known line number 3", source: "journal", position: "j3", at: 0)
        read(&machine, "known line number 4", source: "journal", position: "j4", at: 0)
        let first = try #require(commit(machine.handle(.tick, at: at(0.1))))
        #expect(first.events.map(\.record.message) == ["known line number 4"], "j3's event was stored before the crash")
        #expect(first.cursors.isEmpty && first.decidedAhead == ["journal": ["j4"]])
        #expect(machine.statistics.lines == 2)
        let batch = try #require(classified(machine.handle(.tick, at: at(3))))
        _ = machine.handle(.classified([batch[0].id: .success(quiet)], modelCalls: 1), at: at(4))
        let second = try #require(commit(machine.handle(.tick, at: at(4))))
        #expect(second.cursors == ["journal": "j4"] && Set(second.passed["journal"] ?? []) == ["j3", "j4"])
    }

    @Test func nothingIsSentWhileTheModelIsNotReadyAndTheBacklogSaysSo() throws {
        var machine = machine(ready: false)
        read(&machine, "alpha beta gamma", position: "1", at: 0)
        read(&machine, "delta epsilon zeta eta", position: "2", at: 0)
        #expect(classified(machine.handle(.tick, at: at(10))) == nil)
        let backlog = machine.backlog(at: at(10))
        #expect(backlog.templatesWaiting == 2 && backlog.linesHeld == 2 && backlog.oldestWaitingSeconds == 10)
        #expect(backlog.triggerModel == "not ready: loading")
        #expect(classified(machine.handle(.model(.ready), at: at(11)))?.count == 2, "Ready again: asked at once")
    }

    @Test func aFailedClassificationIsRetriedWithBackoffAndAtOnceWhenTheModelIsBack() throws {
        var machine = machine()
        read(&machine, "alpha beta gamma", position: "1", at: 0)
        read(&machine, "delta epsilon zeta eta", position: "2", at: 0)
        let failure = TriggerClassifier.Failure(reason: "the trigger model's answer was not usable: 503")
        _ = machine.handle(.classified([1: .failure(failure), 2: .success(quiet)], modelCalls: 2), at: at(1))
        #expect(machine.statistics.classificationFailures == 1 && machine.failures == [1: failure.reason])
        #expect(classified(machine.handle(.tick, at: at(5))) == nil, "not before its backoff")
        #expect(classified(machine.handle(.tick, at: at(6)))?.map(\.id) == [1], "after 5 s")
        _ = machine.handle(.classified([1: .failure(failure)], modelCalls: 1), at: at(7))
        #expect(classified(machine.handle(.tick, at: at(16))) == nil, "the second backoff is 10 s")
        // The model goes away and comes back: the template is asked at once, backoff or not.
        _ = machine.handle(.model(.unavailable("restarting")), at: at(8))
        #expect(classified(machine.handle(.model(.ready), at: at(9)))?.map(\.id) == [1])
        _ = machine.handle(.classified([1: .success(error)], modelCalls: 1), at: at(10))
        let stored = try #require(commit(machine.handle(.tick, at: at(10))))
        #expect(stored.events.map(\.record.message) == ["alpha beta gamma"] && machine.templatesWaiting.isEmpty)
        #expect(machine.backlog(at: at(10)).classificationFailuresLastHour == 2)
        #expect(machine.backlog(at: at(3700)).classificationFailuresLastHour == 0)
    }

    @Test func linesHeldTooLongAreDecidedByTheRulesAndJudgedAgainWhenTheVerdictComes() throws {
        let rule = try OperatorRule(pattern: "^kernel", severity: "warning", category: "hardware", escalate: false, summary: "a kernel line")
        var machine = TriggerStateMachine(settings: settings, rules: [rule], classifying: true, availability: .unavailable("loading"), at: start)
        read(&machine, "payment service refused 12 requests", position: "1", at: 0)
        read(&machine, "kernel: usb 1-1: new high-speed USB device number 4 using xhci_hcd", position: "2", at: 1)
        // A line the rules decide does not wait for a verdict; the other one does, and holds its source's cursor.
        let first = try #require(commit(machine.handle(.tick, at: at(30))))
        #expect(first.events.map(\.summary) == ["a kernel line"] && first.cursors.isEmpty)
        #expect(machine.templatesWaiting.count == 2, "both templates still want a verdict")
        let released = try #require(commit(machine.handle(.tick, at: at(61))))
        #expect(released.events.isEmpty, "the rules give the payment line no event")
        #expect(released.provisional.map(\.key) == ["file:/a@1"] && released.cursors == ["file:/a": "2"])
        #expect(released.provisional.first?.reason == "the trigger model was not ready (loading)")

        let batch = try #require(classified(machine.handle(.model(.ready), at: at(70))))
        let verdicts: [Int: Result<Verdict, TriggerClassifier.Failure>] = Dictionary(uniqueKeysWithValues: batch.map { ($0.id, .success(error)) })
        _ = machine.handle(.classified(verdicts, modelCalls: 1), at: at(71))
        let judged = try #require(commit(machine.handle(.tick, at: at(71))))
        // The payment line had no event and now deserves one: it gets it, marked late.
        #expect(judged.events.map(\.record.message) == ["payment service refused 12 requests"])
        #expect(judged.events.first?.summary == "a job failed (late: decided by the rules alone at first, because the trigger model was not ready (loading))")
        #expect(judged.resolved == ["file:/a@1"])
    }

    @Test func aProvisionalLineWhoseVerdictAddsNothingGetsNoSecondEvent() throws {
        var machine = TriggerStateMachine(settings: settings, classifying: true, availability: .unavailable("down"), at: start)
        read(&machine, "routine status report ok", position: "1", at: 0)
        _ = machine.handle(.tick, at: at(61))
        let batch = try #require(classified(machine.handle(.model(.ready), at: at(62))))
        _ = machine.handle(.classified([batch[0].id: .success(quiet)], modelCalls: 1), at: at(63))
        let judged = try #require(commit(machine.handle(.tick, at: at(63))))
        #expect(judged.events.isEmpty && judged.resolved == ["file:/a@1"])
    }

    @Test func templatesAndProvisionalLinesFromAnEarlierRunAreTakenUp() throws {
        var miner = TemplateMiner()
        _ = miner.add("cron job started")
        _ = miner.add("segfault in worker process")
        let kept = TriggerStateMachine.ProvisionalLine(key: "journal@c9", templateID: 2, record: LogRecord(message: "segfault in worker process"),
                                                       reason: "its classification failed (timeout)", ruledSeverity: nil, ruledEscalate: false)
        var machine = machine(verdicts: [1: quiet], miner: miner, provisional: [kept])
        #expect(machine.templatesWaiting == [2], "a template without a verdict is queued at start")
        let batch = try #require(classified(machine.handle(.tick, at: at(3))))
        #expect(batch.map(\.id) == [2])
        _ = machine.handle(.classified([2: .success(error)], modelCalls: 1), at: at(4))
        let judged = try #require(commit(machine.handle(.tick, at: at(4))))
        #expect(judged.events.map(\.record.message) == ["segfault in worker process"] && judged.resolved == ["journal@c9"])
    }

    @Test func tooManyHeldLinesReleaseTheOldest() throws {
        var machine = TriggerStateMachine(settings: .init(batchSize: 50, maximumHeld: 3), classifying: true, availability: .unavailable("down"),
                                          at: start)
        for number in 1...5 { read(&machine, "burst line \(number)", position: "\(number)", at: 0) }
        let stored = try #require(commit(machine.handle(.tick, at: at(1))))
        #expect(stored.provisional.map(\.key) == ["file:/a@1", "file:/a@2"])
        #expect(stored.provisional.allSatisfy { $0.reason == "more than 3 lines were waiting for verdicts" })
        #expect(stored.cursors == ["file:/a": "2"] && machine.backlog(at: at(1)).linesHeld == 3)
    }

    @Test func theEndOfAReplayAsksWhatItCanThenDecidesTheRest() throws {
        var machine = TriggerStateMachine(settings: .init(batchSize: 8, keepsProvisional: false), classifying: true, availability: .ready, at: start)
        read(&machine, "first kind of line", position: "1", at: 0)
        let batch = try #require(classified(machine.handle(.inputEnded, at: at(0))), "asked without waiting for the flush timer")
        _ = machine.handle(.classified([batch[0].id: .failure(.init(reason: "garbage"))], modelCalls: 2), at: at(1))
        let end = machine.handle(.inputEnded, at: at(1))
        #expect(classified(end) == nil, "a failed template is not asked again at the end")
        #expect(commit(end)?.provisional.isEmpty == true && machine.backlog(at: at(1)).linesHeld == 0)
    }

    @Test func withoutAModelTheRulesDecideAtOnce() throws {
        var machine = TriggerStateMachine(classifying: false, at: start)
        let actions = read(&machine, "anything at all", position: "1", at: 0)
        #expect(actions.isEmpty && machine.templatesWaiting.isEmpty)
        #expect(commit(machine.handle(.tick, at: at(0)))?.cursors == ["file:/a": "1"])
    }

    // MARK: Signatures

    static let oom = "Out of memory: Killed process 2203 (gunicorn) total-vm:16934412kB, anon-rss:15573284kB"
    let talkedDown = Verdict(severity: .normal, category: .other, escalate: false, summary: "nothing to see here")

    /// Lets the flush timer send template 1 and answers it with `verdict`.
    func answer(_ machine: inout TriggerStateMachine, _ verdict: Verdict, at time: Double) throws {
        let batch = try #require(classified(machine.handle(.tick, at: at(time))))
        #expect(batch.map(\.id) == [1])
        _ = machine.handle(.classified([1: .success(verdict)], modelCalls: 1), at: at(time))
    }

    @Test func aSignatureIsAFloorTheModelCannotTalkALineBelow() throws {
        var machine = machine()
        read(&machine, Self.oom, position: "1", at: 0)
        let first = try #require(commit(machine.handle(.tick, at: at(0))))
        #expect(first.events.map(\.source) == [.signature("oom-killer")], "decided at once, no verdict needed")
        #expect(first.events.first?.severity == .critical && first.events.first?.escalate == true)
        #expect(first.events.first?.summary == SignaturePack.builtIn.signatures.first { $0.id == "oom-killer" }?.why)
        #expect(first.cursors == ["file:/a": "1"] && machine.templatesWaiting == [1], "no line waits, yet its template is asked about")
        // The line talks the model into "normal": later lines of the template stay critical.
        try answer(&machine, talkedDown, at: 3)
        read(&machine, Self.oom.replacingOccurrences(of: "2203", with: "2204"), position: "2", at: 4)
        let second = try #require(commit(machine.handle(.tick, at: at(4))))
        #expect(second.events.map(\.severity) == [.critical] && second.events.first?.source == .signature("oom-killer"))
        // A rule that says normal does not lower it either.
        let rule = try OperatorRule(pattern: "Out of memory", severity: "normal", category: "other", escalate: false, summary: "ignore")
        var ruled = TriggerStateMachine(settings: settings, verdicts: [1: talkedDown], rules: [rule], classifying: true, availability: .ready, at: start)
        read(&ruled, Self.oom, position: "1", at: 0)
        #expect(commit(ruled.handle(.tick, at: at(0)))?.events.map(\.severity) == [.critical])
    }

    @Test func theModelCanRaiseALineAboveItsSignature() throws {
        var machine = machine()
        let failed = "Failed password for root from 203.0.113.45 port 52000 ssh2"
        read(&machine, failed, position: "1", at: 0)
        #expect(commit(machine.handle(.tick, at: at(0)))?.events.map(\.severity) == [.warning])
        try answer(&machine, Verdict(severity: .critical, category: .security, escalate: true, summary: "someone is in"), at: 3)
        read(&machine, failed.replacingOccurrences(of: "52000", with: "52001"), position: "2", at: 4)
        // The first line comes again, late, with the model's graver verdict; the second has it at once.
        let events = try #require(commit(machine.handle(.tick, at: at(4)))?.events)
        let raised = try #require(events.first { $0.record.message.hasSuffix("52001 ssh2") })
        #expect(raised.severity == .critical && raised.source == .model && raised.summary == "someone is in")
    }

    @Test func anOverriddenSignatureSetsTheOperatorsFloorAndASwitchedOffOneNone() throws {
        let milder = SignaturePack(overrides: ["oom-killer": .init(severity: "warning", escalate: false)])
        var machine = TriggerStateMachine(settings: settings, signatures: milder, classifying: false, at: start)
        read(&machine, Self.oom, position: "1", at: 0)
        let event = try #require(commit(machine.handle(.tick, at: at(0)))?.events.first)
        #expect(event.severity == .warning && !event.escalate && event.source == .signature("oom-killer"))

        var off = TriggerStateMachine(settings: settings, signatures: SignaturePack(overrides: ["oom-killer": .init(enable: false)]),
                                      classifying: true, availability: .ready, at: start)
        read(&off, Self.oom, position: "1", at: 0)
        let waiting = off.handle(.tick, at: at(0))
        #expect(commit(waiting)?.events.isEmpty ?? true, "no event without its signature and a verdict")
        #expect(off.backlog(at: at(0)).linesHeld == 1 && off.templatesWaiting == [1], "without its signature the line waits for the model")

        // A floor below warning raises no event, so it decides nothing: the line waits for the model like any other.
        var quiet = TriggerStateMachine(settings: settings, signatures: SignaturePack(overrides: ["oom-killer": .init(severity: "info", escalate: false)]),
                                        classifying: true, availability: .ready, at: start)
        read(&quiet, Self.oom, position: "1", at: 0)
        #expect(quiet.backlog(at: at(0)).linesHeld == 1)
    }

    @Test func aTemplateThatHidesTheValueASignatureLooksAtIsMatchedLineByLine() throws {
        var machine = TriggerStateMachine(settings: settings, classifying: false, at: start)
        var flagged: [String] = []
        for counter in 1...7 {
            let line = "app.service: Scheduled restart job, restart counter is at \(counter)."
            for action in read(&machine, line, position: "\(counter)", at: Double(counter)) {
                if case .store(let commit) = action { flagged += commit.events.map(\.record.message) }
            }
            flagged += commit(machine.handle(.tick, at: at(Double(counter))))?.events.map(\.record.message) ?? []
        }
        #expect(flagged == (5...7).map { "app.service: Scheduled restart job, restart counter is at \($0)." }, "one template, judged per line")
        #expect(machine.statistics.templates == 1)
    }

    /// A template that gathers a line its signature matches and one it does not: from then on each line is matched
    /// itself, whatever order they come in — a link that goes down again is flagged again.
    @Test func aTemplateThatGeneralisesOverAMatchKeepsTheFloorOfItsMatchingLines() throws {
        var machine = TriggerStateMachine(settings: settings, classifying: false, at: start)
        var flagged: [String] = []
        let lines = ["eth0: Link is Down", "eth0: Link is Up", "eth0: Link is Down", "eth0: Link is Up", "eth0: Link is Down"]
        for (number, line) in lines.enumerated() {
            read(&machine, line, position: "\(number)", at: Double(number))
            flagged += commit(machine.handle(.tick, at: at(Double(number))))?.events.map { "\(number) \($0.record.message)" } ?? []
        }
        #expect(machine.statistics.templates == 1, "one template for both kinds")
        #expect(flagged == ["0 eth0: Link is Down", "2 eth0: Link is Down", "4 eth0: Link is Down"])

        // The other order: the template exists, generalised, before the first matching line arrives.
        var late = TriggerStateMachine(settings: settings, classifying: false, at: start)
        var lateFlagged: [String] = []
        for (number, line) in ["eth0: Link is Up", "eth1: Link is Flapping", "eth0: Link is Down"].enumerated() {
            read(&late, line, position: "\(number)", at: Double(number))
            lateFlagged += commit(late.handle(.tick, at: at(Double(number))))?.events.map(\.record.message) ?? []
        }
        #expect(lateFlagged == ["eth0: Link is Down"])
    }

    /// A line only its signature decided is judged again when its template's verdict comes: the model can raise it
    /// (a late event), never lower it.
    @Test func aSignatureLineIsJudgedAgainWhenItsTemplatesVerdictComes() throws {
        var machine = machine()
        let failed = "Failed password for root from 203.0.113.45 port 52000 ssh2"
        read(&machine, failed, position: "1", at: 0)
        let first = try #require(commit(machine.handle(.tick, at: at(0))))
        #expect(first.events.map(\.severity) == [.warning] && first.provisional.map(\.key) == ["file:/a@1"])
        try answer(&machine, Verdict(severity: .critical, category: .security, escalate: true, summary: "a break-in"), at: 3)
        let judged = try #require(commit(machine.handle(.tick, at: at(3))))
        #expect(judged.events.map(\.severity) == [.critical] && judged.events.first?.summary.hasPrefix("a break-in (late: ") == true)
        #expect(judged.resolved == ["file:/a@1"])

        var calm = self.machine()
        read(&calm, failed, position: "1", at: 0)
        _ = calm.handle(.tick, at: at(0))
        try answer(&calm, talkedDown, at: 3)
        let unchanged = try #require(commit(calm.handle(.tick, at: at(3))))
        #expect(unchanged.events.isEmpty && unchanged.resolved == ["file:/a@1"], "a verdict below the floor adds nothing")
    }
}
