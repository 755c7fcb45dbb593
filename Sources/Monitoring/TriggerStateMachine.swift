import Foundation
import SysadminConfiguration

/// Layer 1 as a pure state machine: lines, verdicts, the trigger model's availability and time in; requests to
/// classify and commits for the store out. No I/O, no clock of its own — ``TriggerService`` (following the
/// journal and files) and `ai-sysadmin replay` perform the actions and feed the outcomes back.
///
/// ```
/// a line ──template has a verdict──────────────────────────────────────▶ decided (an event, or nothing)
///    └────no verdict yet──▶ held ──verdict──────────────────────────────▶ decided
///                             └──held too long, or too many held──▶ decided by the rules alone ("provisional")
///                                                                    └──verdict later──▶ judged again (a late event)
///
/// a template without a verdict: waiting ──batch full / flush timer, model Ready──▶ in flight ──▶ verdict
///                                  ▲                                                   │
///                                  └──backoff elapsed, or the model Ready again──── failed
/// ```
///
/// No template is forgotten: a failed classification is retried with backoff, and at once when the model is
/// Ready again; nothing is sent while it is not. A source's cursor never passes a line that is still held, so a
/// crash loses and repeats nothing; lines the rules decided without a verdict go into the commit too, to be judged
/// again after a restart.
public struct TriggerStateMachine: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Templates per classification request.
        public var batchSize: Int
        /// A new template waits this long for others to fill its batch.
        public var flushAfter: Duration
        /// A line waits this long for its template's verdict; then the rules decide it.
        public var holdLimit: Duration
        /// Lines held at most; past it the oldest are decided by the rules.
        public var maximumHeld: Int
        /// The wait before a template whose classification failed is asked again.
        public var retry: Backoff
        /// Whether lines decided by the rules alone are kept (in the commit) to be judged again once their template
        /// has a verdict: a follower's, not a replay's.
        public var keepsProvisional: Bool
        /// Provisional lines kept at most; more are decided by the rules for good.
        public var maximumProvisional: Int
        /// Lines of one source read past its cursor at most (a held line keeps the cursor back while later lines are
        /// decided); past it the source's oldest held lines are decided by the rules.
        public var maximumTrail: Int
        /// Whether sources' positions are tracked for cursors: a follower's, not a replay's.
        public var tracksCursors: Bool

        public init(batchSize: Int = 8, flushAfter: Duration = .seconds(2), holdLimit: Duration = .seconds(60), maximumHeld: Int = 4096,
                    retry: Backoff = .init(initial: .seconds(5), maximum: .seconds(300)), keepsProvisional: Bool = true,
                    maximumProvisional: Int = 10_000, maximumTrail: Int = 20_000, tracksCursors: Bool = true) {
            self.batchSize = max(1, batchSize)
            self.flushAfter = flushAfter
            self.holdLimit = holdLimit
            self.maximumHeld = max(1, maximumHeld)
            self.retry = retry
            self.keepsProvisional = keepsProvisional
            self.maximumProvisional = maximumProvisional
            self.maximumTrail = max(1, maximumTrail)
            self.tracksCursors = tracksCursors
        }
    }

    /// Whether the trigger model can be asked now, as the supervisor (or a health probe) says.
    public enum ModelAvailability: Sendable, Equatable {
        case ready
        case unavailable(String)
    }

    public enum Event: Sendable {
        /// A line read from `source`; `position` is where reading resumes after it.
        case read(LogRecord, source: String, position: String)
        /// The answer to the last ``Action/classify(_:)``: `sharedVerdicts` of the verdicts came from other hosts (a
        /// fleet's), for templates the model was not asked about.
        case classified([Int: Result<Verdict, TriggerClassifier.Failure>], modelCalls: Int, sharedVerdicts: Int = 0)
        case model(ModelAvailability)
        /// Time passed: flush and retry timers, lines held too long, and a commit of what is ready.
        case tick
        /// The input is over (a replay): ask about everything that can still be asked, then decide the rest.
        case inputEnded
    }

    public enum Action: Sendable, Equatable {
        /// Ask the trigger model about these templates; feed the answer back as ``Event/classified(_:modelCalls:)``.
        case classify([TemplateRequest])
        /// Write this in one transaction.
        case store(Commit)
    }

    public struct TemplateRequest: Sendable, Equatable {
        public let id: Int
        public let text: String
    }

    /// What to write, all at once: a cursor is stored only with the events of the lines before it, and a line
    /// decided past its source's cursor (an earlier line is still held) is written down so that reading it again
    /// after a crash does not judge it twice.
    public struct Commit: Sendable, Equatable {
        public var events: [TriggerEvent] = []
        /// Templates that are new or counted more lines since the last commit.
        public var templates: [TemplateMiner.Template] = []
        public var verdicts: [Int: Verdict] = [:]
        /// Source → the position reading may resume after: no line before it is still held.
        public var cursors: [String: String] = [:]
        /// Source → positions of lines decided past its cursor (their events are in this commit or an earlier one).
        public var decidedAhead: [String: [String]] = [:]
        /// Source → positions the cursor has now passed: no longer needed.
        public var passed: [String: [String]] = [:]
        /// Lines the rules decided without a verdict, to be judged again when it comes.
        public var provisional: [ProvisionalLine] = []
        /// Keys of provisional lines that have been judged again.
        public var resolved: [String] = []

        public init() {}

        public var isEmpty: Bool {
            events.isEmpty && templates.isEmpty && verdicts.isEmpty && cursors.isEmpty && decidedAhead.isEmpty && passed.isEmpty
                && provisional.isEmpty && resolved.isEmpty
        }

        /// Adds a later commit to this one (when this one could not be written yet): later values win.
        public mutating func absorb(_ later: Commit) {
            events += later.events
            let replaced = Set(later.templates.map(\.id))
            templates = templates.filter { !replaced.contains($0.id) } + later.templates
            verdicts.merge(later.verdicts) { _, newer in newer }
            cursors.merge(later.cursors) { _, newer in newer }
            decidedAhead.merge(later.decidedAhead) { earlier, newer in earlier + newer }
            passed.merge(later.passed) { earlier, newer in earlier + newer }
            provisional += later.provisional
            resolved += later.resolved
        }
    }

    /// A line the rules decided while its template had no verdict.
    public struct ProvisionalLine: Sendable, Equatable, Codable {
        /// `source@position`: unique per line.
        public let key: String
        public let templateID: Int
        public let record: LogRecord
        /// Why it was decided without a verdict.
        public let reason: String
        /// What the rules made of it: nil when no event.
        public let ruledSeverity: Severity?
        public let ruledEscalate: Bool

        public init(key: String, templateID: Int, record: LogRecord, reason: String, ruledSeverity: Severity?, ruledEscalate: Bool) {
            self.key = key
            self.templateID = templateID
            self.record = record
            self.reason = reason
            self.ruledSeverity = ruledSeverity
            self.ruledEscalate = ruledEscalate
        }
    }

    /// A template without a verdict.
    struct Pending: Sendable {
        /// When it joined the queue (again): the flush timer runs from here.
        var since: ContinuousClock.Instant
        var failures = 0
        /// Not asked before this (backoff after a failure).
        var retryAt: ContinuousClock.Instant?
        var lastFailure: String?
    }

    struct HeldLine: Sendable {
        let record: LogRecord
        let templateID: Int
        let source: String
        let position: String
        let since: ContinuousClock.Instant
    }

    /// What a template's lines match: one decision for all of them, or each line its own.
    enum TemplateSignature: Sendable {
        case fixed(Signature?)
        case perLine
    }

    /// One source's lines read past its stored cursor, in order.
    struct SourceTrail: Sendable {
        struct Entry: Sendable {
            let position: String
            var decided: Bool
            /// In the store as decided ahead of the cursor.
            var recorded: Bool
        }

        var entries: [Entry] = []
        /// Positions an earlier run decided past its cursor: not judged again when read again.
        var alreadyDecided: Set<String> = []

        mutating func markDecided(_ position: String) {
            if let index = entries.firstIndex(where: { !$0.decided && $0.position == position }) { entries[index].decided = true }
        }
    }

    public let settings: Settings
    /// Operator rules, checked before the model's verdict.
    let rules: [OperatorRule]
    /// The built-in signatures with the operator's overrides: floors the model cannot lower.
    let signatures: SignaturePack
    /// What each template's lines match: decided once per template, or per line where the template would hide
    /// the difference (a signature's words sit where the template varies).
    private var templateSignatures: [Int: TemplateSignature] = [:]
    private var errorRate: ErrorRateTrigger?
    /// False: rules and template mining only (no model at all).
    let classifying: Bool
    public private(set) var statistics = TriggerStatistics()
    public private(set) var miner: TemplateMiner
    public private(set) var verdicts: [Int: Verdict]
    public private(set) var availability: ModelAvailability
    /// Templates without a verdict, in the order they are asked about.
    private var queue: [Int] = []
    private var pending: [Int: Pending] = [:]
    private var inFlight: [Int]?
    private var held: [HeldLine] = []
    private var sources: [String: SourceTrail] = [:]
    private var provisional: [Int: [ProvisionalLine]] = [:]
    private var provisionalCount = 0
    private var failureTimes: [ContinuousClock.Instant] = []
    private var commit = Commit()
    /// Template id → the line count last committed, so a commit carries only templates that changed.
    private var committedCounts: [Int: Int] = [:]

    /// - Parameters:
    ///   - verdicts: the store's valid verdicts; every other template of `miner` is queued for one.
    ///   - provisional: lines an earlier run decided without a verdict.
    ///   - decidedAhead: source → positions an earlier run decided past its stored cursor.
    ///   - classifying: false when there is no model at all: the rules decide every line at once.
    public init(settings: Settings = .init(), miner: TemplateMiner = TemplateMiner(), verdicts: [Int: Verdict] = [:], rules: [OperatorRule] = [],
                signatures: SignaturePack = .builtIn, errorRate: ErrorRateTrigger? = nil, classifying: Bool, provisional: [ProvisionalLine] = [],
                decidedAhead: [String: Set<String>] = [:], availability: ModelAvailability = .unavailable("not asked yet"),
                at now: ContinuousClock.Instant) {
        self.settings = settings
        self.miner = miner
        self.verdicts = verdicts
        self.rules = rules
        self.signatures = signatures
        self.errorRate = errorRate
        self.classifying = classifying
        self.availability = availability
        for (source, positions) in decidedAhead { sources[source] = SourceTrail(alreadyDecided: positions) }
        for template in miner.templates { committedCounts[template.id] = template.count }
        guard classifying else { return }
        for template in miner.templates where verdicts[template.id] == nil { enqueue(template.id, at: now) }
        for line in provisional where miner[line.templateID] != nil {
            self.provisional[line.templateID, default: []].append(line)
            provisionalCount += 1
            if verdicts[line.templateID] == nil { enqueue(line.templateID, at: now) }
        }
        // A verdict stored after the line was kept: judge it now.
        for id in Array(self.provisional.keys) where verdicts[id] != nil { judgeProvisional(of: id) }
    }

    // MARK: Events

    public mutating func handle(_ event: Event, at now: ContinuousClock.Instant) -> [Action] {
        switch event {
        case .read(let record, let source, let position):
            return read(record, source: source, position: position, at: now)
        case .classified(let results, let calls, let shared):
            statistics.sharedVerdicts += shared
            return classified(results, calls: calls, at: now)
        case .model(let availability):
            let wasReady = self.availability == .ready
            self.availability = availability
            guard availability == .ready, !wasReady else { return [] }
            // Back: what failed while it was away is asked at once.
            for id in queue { pending[id]?.retryAt = nil }
            return classifyIfDue(at: now, force: true)
        case .tick:
            releaseExpired(at: now)
            return classifyIfDue(at: now, force: false) + storeIfAny()
        case .inputEnded:
            // Every template that has not failed yet is asked, without waiting for timers; what cannot be asked any
            // more is decided by the rules.
            let asking = classifyIfDue(at: now, force: true, includingFailed: false)
            if !asking.isEmpty || inFlight != nil { return asking + storeIfAny() }
            let reason = availability == .ready ? "its classification failed" : "the trigger model was not available"
            while let line = held.first {
                held.removeFirst()
                release(line, because: reason)
            }
            return storeIfAny()
        }
    }

    private mutating func read(_ record: LogRecord, source: String, position: String, at now: ContinuousClock.Instant) -> [Action] {
        if sources[source]?.alreadyDecided.remove(position) != nil {
            // Decided and stored before a crash; its position is in the store until the cursor passes it.
            sources[source]?.entries.append(.init(position: position, decided: true, recorded: true))
            return []
        }
        statistics.lines += 1
        let match = miner.add(record.message)
        if match.isNew { statistics.templates += 1 } else { statistics.cacheHits += 1 }
        let signature = signature(of: match, record.message)
        // A signature whose floor is below warning (an operator's override) raises no event: it decides nothing alone.
        let signatureDecides = signature.map { $0.severity >= .warning || $0.escalate } ?? false
        let ruled = decidedByRules(record)
        let decideNow = !classifying || verdicts[match.id] != nil || signatureDecides || ruled
        if settings.tracksCursors {
            sources[source, default: SourceTrail()].entries.append(.init(position: position, decided: decideNow, recorded: false))
        }
        if classifying, verdicts[match.id] == nil { enqueue(match.id, at: now) }
        countErrors(record, templateID: match.id, signature: signature)
        if decideNow {
            // The priority floor, a signature and the operator's rules come before any verdict: a line they decide
            // need not wait. A line only its signature decided is judged again when its template's verdict comes,
            // so the model can still raise it (a rule takes the verdict's place; the priority floor is the top).
            let event = decide(record, match.id, signature: signature, position: position)
            emit(event)
            if classifying, verdicts[match.id] == nil, !ruled, event?.severity != .critical {
                keepProvisional(record, match.id, key: "\(source)@\(position)", because: "its template had no verdict yet", ruledBy: event)
            }
            return classifyIfDue(at: now, force: false)
        }
        held.append(HeldLine(record: record, templateID: match.id, source: source, position: position, since: now))
        while held.count > settings.maximumHeld {
            release(held.removeFirst(), because: "more than \(settings.maximumHeld) lines were waiting for verdicts")
        }
        if settings.tracksCursors, let trail = sources[source], trail.entries.count > settings.maximumTrail,
           let oldest = held.firstIndex(where: { $0.source == source }) {
            release(held.remove(at: oldest), because: "more than \(settings.maximumTrail) lines of \(source) were read past one waiting for a verdict")
        }
        return classifyIfDue(at: now, force: false)
    }

    private mutating func classified(_ results: [Int: Result<Verdict, TriggerClassifier.Failure>], calls: Int,
                                     at now: ContinuousClock.Instant) -> [Action] {
        statistics.modelCalls += calls
        for id in inFlight ?? [] {
            switch results[id] {
            case .success(let verdict)?:
                verdicts[id] = verdict
                commit.verdicts[id] = verdict
                pending[id] = nil
                queue.removeAll { $0 == id }
                let (done, waiting) = held.partitioned { $0.templateID == id }
                held = waiting
                for line in done {
                    sources[line.source]?.markDecided(line.position)
                    emit(decide(line.record, id, position: line.position))
                }
                judgeProvisional(of: id)
            case .failure(let failure)?:
                failed(id, failure.reason, at: now)
            case nil:
                failed(id, "the classifier gave no answer for it", at: now)
            }
        }
        inFlight = nil
        return classifyIfDue(at: now, force: false)
    }

    private mutating func failed(_ id: Int, _ reason: String, at now: ContinuousClock.Instant) {
        statistics.classificationFailures += 1
        failureTimes.append(now)
        guard var state = pending[id] else { return }
        state.failures += 1
        state.lastFailure = reason
        state.retryAt = now.advanced(by: settings.retry.delay(afterFailures: state.failures))
        pending[id] = state
    }

    // MARK: Classifying

    private mutating func enqueue(_ id: Int, at now: ContinuousClock.Instant) {
        guard pending[id] == nil else { return }
        pending[id] = Pending(since: now)
        queue.append(id)
    }

    /// The next batch, when the model is Ready, none is in flight, and the batch is full, its oldest template has
    /// waited `flushAfter` (or a retry is due), or `force`.
    private mutating func classifyIfDue(at now: ContinuousClock.Instant, force: Bool, includingFailed: Bool = true) -> [Action] {
        guard classifying, availability == .ready, inFlight == nil else { return [] }
        let eligible = queue.filter { id in
            guard let state = pending[id] else { return false }
            if !includingFailed, state.failures > 0 { return false }
            return state.retryAt.map { $0 <= now } ?? true
        }
        guard let oldest = eligible.first.flatMap({ pending[$0] }) else { return [] }
        let due = force || eligible.count >= settings.batchSize || now - oldest.since >= settings.flushAfter
            || eligible.contains { pending[$0]?.failures ?? 0 > 0 }
        guard due else { return [] }
        let batch = Array(eligible.prefix(settings.batchSize))
        inFlight = batch
        return [.classify(batch.compactMap { id in miner[id].map { TemplateRequest(id: id, text: $0.text) } })]
    }

    // MARK: Deciding

    private mutating func releaseExpired(at now: ContinuousClock.Instant) {
        while let line = held.first, now - line.since >= settings.holdLimit {
            held.removeFirst()
            release(line, because: whyNoVerdict(line.templateID))
        }
    }

    private func whyNoVerdict(_ id: Int) -> String {
        if case .unavailable(let why) = availability { return "the trigger model was not ready (\(LogText.clean(why, limit: 120)))" }
        if let failure = pending[id]?.lastFailure { return "its classification failed (\(LogText.clean(failure, limit: 120)))" }
        return "no verdict came within \(settings.holdLimit)"
    }

    /// Decides a held line by the rules alone and keeps it to be judged again when its template has a verdict.
    private mutating func release(_ line: HeldLine, because reason: String) {
        sources[line.source]?.markDecided(line.position)
        let event = decide(line.record, line.templateID, position: line.position)
        emit(event)
        keepProvisional(line.record, line.templateID, key: "\(line.source)@\(line.position)", because: reason, ruledBy: event)
    }

    /// Keeps a line decided without its template's verdict, with what it got, to be judged again (bounded).
    private mutating func keepProvisional(_ record: LogRecord, _ templateID: Int, key: String, because reason: String, ruledBy event: TriggerEvent?) {
        guard settings.keepsProvisional, provisionalCount < settings.maximumProvisional else { return }
        let kept = ProvisionalLine(key: key, templateID: templateID, record: record, reason: reason,
                                   ruledSeverity: event?.severity, ruledEscalate: event?.escalate ?? false)
        provisional[templateID, default: []].append(kept)
        provisionalCount += 1
        commit.provisional.append(kept)
    }

    /// The lines the rules decided without `id`'s verdict, judged again with it: one that now deserves an event,
    /// or a graver one, gets it, marked late with the reason.
    private mutating func judgeProvisional(of id: Int) {
        for line in provisional.removeValue(forKey: id) ?? [] {
            provisionalCount -= 1
            commit.resolved.append(line.key)
            // The signatures as configured now: a line kept from an earlier run may predate an override.
            guard let event = decide(line.record, id, signature: signatures.match(line.record.message)) else { continue }
            if line.ruledSeverity.map({ event.severity > $0 }) ?? true || (event.escalate && !line.ruledEscalate) {
                emit(event.late(because: line.reason))
            }
        }
    }

    private mutating func emit(_ event: TriggerEvent?) {
        guard let event else { return }
        statistics.events += 1
        if event.escalate { statistics.escalations += 1 }
        commit.events.append(event)
    }

    private func decidedByRules(_ record: LogRecord) -> Bool {
        record.priority.map { $0 <= 2 } ?? false || rules.contains { $0.matches(record.message) }
    }

    /// The signature this line matches. A masked message seen before takes its template's decision (one dictionary
    /// lookup); a new one is matched itself, and the template keeps one decision for all its lines only while every
    /// kind of line it gathers, and its text, agree — after one disagreement (a masked token the pattern needed, a
    /// value it looks at) the template is matched line by line for good.
    private mutating func signature(of match: TemplateMiner.Match, _ message: String) -> Signature? {
        let known = templateSignatures[match.id]
        if !match.newKey, let known {
            switch known {
            case .fixed(let signature): return signature
            case .perLine: return signatures.match(message)
            }
        }
        let byLine = signatures.match(message)
        switch known {
        case .perLine?:
            break
        case .fixed(let decided)?:
            let template = miner[match.id]?.text ?? message
            let agrees = decided?.id == byLine?.id
                && (!match.changed || (signatures.match(template)?.id == decided?.id && !signatures.looksAtValues(template)))
            if !agrees { templateSignatures[match.id] = .perLine }
        case nil:
            let template = miner[match.id]?.text ?? message
            let fixed = byLine?.id == signatures.match(template)?.id && !signatures.looksAtValues(template)
            templateSignatures[match.id] = fixed ? .fixed(byLine) : .perLine
        }
        return byLine
    }

    /// Feeds the error-rate trigger: journal priority 3 or graver, a line judged error or worse, or a failed login.
    private mutating func countErrors(_ record: LogRecord, templateID: Int, signature: Signature?) {
        guard errorRate != nil else { return }
        let errorish = record.priority.map { $0 <= 3 } ?? false || signature.map { $0.severity >= .error || $0.category == .security } ?? false
            || verdicts[templateID].map { $0.severity >= .error } ?? false
        guard errorish, let events = errorRate?.observe(record) else { return }
        for event in events { emit(event) }
    }

    /// The event for one line, if it deserves one: the gravest of what applies — journal priorities 0–2 (emerg,
    /// alert, crit) are critical, a signature sets its floor, an operator rule or else the model's verdict says
    /// the rest. Neither the model nor a rule can lower a line below the priority floor or a signature; a log
    /// line cannot talk its way below them.
    func decide(_ record: LogRecord, _ templateID: Int, signature: Signature? = nil, position: String? = nil) -> TriggerEvent? {
        let verdict = verdicts[templateID]
        // The gravest decides; among equals the first considered (a signature, then the priority floor, then a rule
        // or the model). Any of them escalating makes the event escalate.
        var chosen: Candidate?
        var escalate = false
        if let signature {
            chosen = Candidate(severity: signature.severity, category: signature.category, summary: signature.why, source: .signature(signature.id))
            escalate = signature.escalate
        }
        if let priority = record.priority, priority <= 2 {
            escalate = true
            if chosen.map({ Severity.critical > $0.severity }) ?? true {
                // What the line is comes from a signature (ours) before the model (which the line may have talked to).
                chosen = Candidate(severity: .critical, category: signature?.category ?? verdict?.category ?? .other,
                                   summary: signature?.why ?? verdict?.summary ?? "journal priority \(priority)", source: .priorityFloor)
            }
        }
        let said = rules.first(where: { $0.matches(record.message) }).map { ($0.verdict, TriggerEvent.Source.rule) }
            ?? verdict.map { ($0, TriggerEvent.Source.model) }
        if let (verdict, source) = said {
            escalate = escalate || verdict.escalate
            if chosen.map({ verdict.severity > $0.severity }) ?? true {
                chosen = Candidate(severity: verdict.severity, category: verdict.category, summary: verdict.summary, source: source)
            }
        }
        guard let chosen, chosen.severity >= .warning || escalate else { return nil }
        return TriggerEvent(record: record, templateID: templateID, severity: chosen.severity, category: chosen.category,
                            escalate: escalate || chosen.severity == .critical, summary: chosen.summary, source: chosen.source, position: position)
    }

    /// One thing that has a say on a line's severity.
    struct Candidate {
        let severity: Severity
        let category: Category
        let summary: String
        let source: TriggerEvent.Source
    }

    // MARK: Committing

    private mutating func storeIfAny() -> [Action] {
        for source in sources.keys {
            guard var trail = sources[source] else { continue }
            // The cursor moves past every decided line at the front; the first held line stops it.
            let front = trail.entries.firstIndex { !$0.decided } ?? trail.entries.count
            if front > 0 {
                commit.cursors[source] = trail.entries[front - 1].position
                let passed = trail.entries[..<front].filter(\.recorded).map(\.position)
                if !passed.isEmpty { commit.passed[source, default: []] += passed }
                trail.entries.removeFirst(front)
            }
            // Lines decided behind a held one are written down, so that reading them again does not judge them twice.
            for index in trail.entries.indices where trail.entries[index].decided && !trail.entries[index].recorded {
                commit.decidedAhead[source, default: []].append(trail.entries[index].position)
                trail.entries[index].recorded = true
            }
            sources[source] = trail
        }
        commit.templates = miner.templates.filter { committedCounts[$0.id] != $0.count }
        for template in commit.templates { committedCounts[template.id] = template.count }
        defer { commit = Commit() }
        return commit.isEmpty ? [] : [.store(commit)]
    }

    // MARK: Status

    /// What waits, for `ai-sysadmin status`.
    public mutating func backlog(at now: ContinuousClock.Instant) -> MonitoringBacklog {
        failureTimes.removeAll { now - $0 > .seconds(3600) }
        let oldest = queue.compactMap { pending[$0]?.since }.min()
        let model: String = switch availability {
        case .ready: "ready"
        case .unavailable(let why): "not ready: \(LogText.clean(why, limit: 120))"
        }
        return MonitoringBacklog(templatesWaiting: queue.count, oldestWaitingSeconds: oldest.map { Self.seconds(now - $0) },
                                 linesHeld: held.count, provisionalLines: provisionalCount, classificationFailuresLastHour: failureTimes.count,
                                 triggerModel: model, modelCalls: statistics.modelCalls, sharedVerdicts: statistics.sharedVerdicts)
    }

    /// Templates without a verdict, oldest first.
    public var templatesWaiting: [Int] { queue }

    /// Templates whose last classification failed, with the reason.
    public var failures: [Int: String] { pending.compactMapValues(\.lastFailure) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension TriggerEvent {
    /// This event, judged after its line had been decided by the rules alone: its summary says so and why.
    func late(because reason: String) -> TriggerEvent {
        TriggerEvent(record: record, templateID: templateID, severity: severity, category: category, escalate: escalate,
                     summary: "\(summary) (late: decided by the rules alone at first, because \(reason))", source: source, position: position)
    }
}

extension Array {
    /// The elements that satisfy `belongs`, and the rest, each in order.
    func partitioned(by belongs: (Element) -> Bool) -> (matching: [Element], rest: [Element]) {
        var matching: [Element] = []
        var rest: [Element] = []
        for element in self {
            if belongs(element) { matching.append(element) } else { rest.append(element) }
        }
        return (matching, rest)
    }
}
