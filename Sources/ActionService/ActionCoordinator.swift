import Autonomy
import Foundation
import Logging
import Notifications
import ServiceLifecycle
import Store
import SysadminConfiguration
import Systemd

/// The one way anything changes on the host. Proposals come in (from reviews, analyses, chat, an operator);
/// each is validated, checked against what else it would touch (systemd's manager is asked), planned and decided
/// by the autonomy policy, and lands in the ledger with exactly one fate
/// — recorded, queued, approved, blocked or rejected — with an audit line. Approved proposals, whether by the
/// policy or by a person with `ai-sysadmin approvals approve`, are executed here one at a time, after being
/// validated again against the current state.
///
/// The run loop also expires queued approvals, marks as failed what a crash interrupted, and copies the audit
/// table into the JSON-lines file.
public actor ActionCoordinator: Service {
    let configuration: DaemonConfiguration
    let ledger: any ActionLedger
    let executor: ActionExecutor
    let systemd: any SystemdManaging
    let validator: ActionValidator
    let tools: HostTools
    let notifier: Notifier?
    let logger: Logger
    let pollInterval: Duration
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private var mirror: AuditMirror

    public init(configuration: DaemonConfiguration, ledger: any ActionLedger, systemd: any SystemdManaging, tools: HostTools = HostTools(),
                notifier: Notifier?, logger: Logger, pollInterval: Duration = .seconds(1), procRoot: String = "/proc") {
        self.configuration = configuration
        self.ledger = ledger
        self.validator = Self.validator(for: configuration, procRoot: procRoot)
        self.systemd = systemd
        self.tools = tools
        self.executor = ActionExecutor(systemd: systemd, tools: tools, validator: validator,
                                       timeout: .milliseconds(Int64(configuration.autonomy.actionTimeoutSeconds * 1000)))
        self.notifier = notifier
        self.logger = logger
        self.pollInterval = pollInterval
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        mirror = AuditMirror(path: configuration.auditLogPath, logger: logger)
    }

    /// The validator the daemon and the CLI share: built-in protected units, the configuration's, and the unit
    /// this process runs in (`<aiName>-ai.service` under systemd, whatever the name).
    public static func validator(for configuration: DaemonConfiguration, procRoot: String = "/proc") -> ActionValidator {
        ActionValidator(extraProtected: configuration.autonomy.protectedUnits + ActionValidator.units(ofProcess: "self", procRoot: procRoot),
                        procRoot: procRoot)
    }

    var policy: AutonomyPolicy {
        AutonomyPolicy(level: configuration.autonomyLevel, restartsPerUnitPerHour: configuration.autonomy.restartsPerUnitPerHour,
                       actionsPerHour: configuration.autonomy.actionsPerHour, journalFloorDays: configuration.autonomy.journalFloorDays,
                       journalFloorMegabytes: configuration.autonomy.journalFloorMegabytes)
    }

    /// The action's risk on this host, or why it may not run at all. A unit action needs the manager's word on
    /// what else it would touch; when the manager cannot say, a person decides.
    private func assess(_ action: Action) async -> Result<RiskAssessment, ActionValidator.Rejection> {
        guard let verb = action.verb, let unit = action.unit else { return .success(policy.assess(action)) }
        do {
            let verdict = try await UnitImpact.explore(verb, unit, systemd: systemd).verdict(validator.units)
            if case .refused(let reason) = verdict { return .failure(ActionValidator.Rejection(reason: reason)) }
            return .success(policy.assess(action, impact: verdict))
        } catch {
            return .success(policy.assess(action, impactUnknown: ActionValidator.printable("\(error)", limit: 300)))
        }
    }

    /// A person's decision on a queued proposal (the console's); an approval is run at once rather than at the next
    /// poll.
    public nonisolated func decide(_ decision: OperatorDecision, on id: Int64, actor: String) throws -> OperatorDecision.Outcome {
        let outcome = try decision.apply(to: id, actor: actor, ledger: ledger, validator: validator)
        if outcome == .approved { wake.yield() }
        return outcome
    }

    // MARK: Proposals

    /// Records `proposal` with its fate and returns the record. Only a failing store can keep a proposal from
    /// the ledger: that is logged as an error and nil returned (the next review proposes again). What
    /// `requester` proposes runs without approval only when it is the system itself or an authenticated operator.
    @discardableResult
    public func submit(_ proposal: ProposedAction, rationale: String, source: String, requester: Requester = .automation) async -> ProposalRecord? {
        let now = Date()
        let cleaned = ProposedAction(type: Self.bounded(proposal.type),
                                     parameters: Dictionary(proposal.parameters.map { (Self.bounded($0.key), Self.bounded($0.value)) },
                                                            uniquingKeysWith: { first, _ in first }))
        let rationale = Self.bounded(rationale, limit: 500)
        var record = NewProposal(source: source, type: cleaned.type, parameters: cleaned.parameters, rationale: rationale,
                                 action: nil, risk: nil, expectedEffect: "", rollback: "")
        do {
            // The original strings are validated, not the cleaned ones: cleaning must never turn a hostile value
            // into an acceptable one.
            let action: Action
            switch validator.validate(proposal) {
            case .failure(let rejection):
                return try store(record, .rejected, reason: rejection.reason, actor: "validator", at: now)
            case .success(let valid):
                action = valid
            }
            let risk: RiskAssessment
            switch await assess(action) {
            case .failure(let rejection):
                return try store(record, .rejected, reason: rejection.reason, actor: "validator", at: now)
            case .success(let assessed):
                risk = assessed
            }
            record.risk = risk.risk.rawValue
            let plan: ActionPlan
            do {
                plan = try action.plan(tools: tools)
            } catch {
                return try store(record, .blocked, reason: "cannot run here: \(error)", actor: "executor", at: now)
            }
            record.action = plan.steps.map(\.description).joined(separator: "; ")
            record.expectedEffect = plan.expectedEffect
            record.rollback = plan.rollbackDescription
            if let twin = try ledger.proposals(in: [.queued, .approved, .executing], limit: 1000)
                .first(where: { $0.type == proposal.type && $0.parameters == proposal.parameters }) {
                return try store(record, .blocked, reason: "the same action is already \(twin.state.rawValue) as proposal \(twin.id)",
                                 actor: "executor", at: now)
            }
            switch policy.decide(action, risk: risk, requester: requester, at: now, recent: try recentExecutions(now)) {
            case .execute:
                let stored = try store(record, .approved, reason: "autonomy level \(configuration.autonomyLevel.rawValue) runs \(risk.risk.rawValue)-risk actions",
                                       actor: "policy", at: now)
                wake.yield()
                return stored
            case .awaitApproval(let reason):
                let expires = now.addingTimeInterval(configuration.autonomy.approvalExpiryHours * 3600)
                let stored = try store(record, .queued, reason: reason, actor: "policy", expiresAt: expires, at: now)
                notifier?.notify(Notification(kind: .approvalQueued, title: "Approval needed: \(action.name) (#\(stored.id))",
                                              message: "\(plan.expectedEffect). Risk \(risk.risk.rawValue)\(reason.map { " (\($0))" } ?? ""). "
                                                  + "Proposed by \(source): \(rationale)\nai-sysadmin approvals approve \(stored.id)",
                                              proposalID: stored.id))
                return stored
            case .record(let reason):
                return try store(record, .recorded, reason: reason, actor: "policy", at: now)
            case .block(let reason):
                let stored = try store(record, .blocked, reason: reason, actor: "policy", at: now)
                notifier?.notify(Notification(kind: .actionFailed, title: "Blocked: \(action.name) (#\(stored.id))", message: reason,
                                              proposalID: stored.id))
                return stored
            }
        } catch {
            logger.error("the ledger failed to keep a proposal; it is lost until proposed again", metadata: [
                "source": "\(source)", "type": "\(cleaned.type)", "error": "\(error)"])
            return nil
        }
    }

    private func store(_ record: NewProposal, _ state: ProposalState, reason: String?, actor: String, expiresAt: Date? = nil,
                       at now: Date) throws -> ProposalRecord {
        let stored = try ledger.insert(record, state: state, reason: reason, actor: actor, expiresAt: expiresAt, at: now)
        logger.info("proposal \(stored.id) \(state.rawValue)", metadata: [
            "ai.proposal.type": "\(record.type)", "ai.proposal.source": "\(record.source)", "ai.proposal.reason": "\(reason ?? "")"])
        return stored
    }

    private func recentExecutions(_ now: Date) throws -> [ExecutionRecord] {
        try ledger.executions(since: now.addingTimeInterval(-3600)).map { ExecutionRecord(time: $0.time, type: $0.type, unit: $0.parameters["unit"]) }
    }

    // MARK: The run loop

    public func run() async throws {
        recoverInterrupted()
        let (wake, pollInterval) = (self.wake, self.pollInterval)
        // Operators approve from another process; the store is the mailbox, looked at every poll.
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: pollInterval)
                wake.yield()
            }
        }
        defer { ticker.cancel() }
        await cancelWhenGracefulShutdown { await self.loop() }
        mirror.copyNewEntries(from: ledger)
    }

    private func loop() async {
        for await _ in wakeups {
            await executeApproved()
            expireQueue()
            mirror.copyNewEntries(from: ledger)
        }
    }

    /// Proposals a crash left `executing` ran, or not: their effect is unknown, and the ledger says so.
    private func recoverInterrupted() {
        for record in (try? ledger.proposals(in: [.executing], limit: 1000)) ?? [] {
            _ = try? ledger.apply(.interrupt, to: record.id, actor: "executor",
                                  reason: "the daemon stopped while this ran; its effect is unknown, check by hand",
                                  detail: nil, result: nil, at: Date())
        }
    }

    private func expireQueue() {
        let now = Date()
        for record in (try? ledger.expiredQueue(at: now)) ?? [] {
            if (try? ledger.apply(.expire, to: record.id, actor: "expiry",
                                  reason: "not decided within \(configuration.autonomy.approvalExpiryHours) hours", detail: nil,
                                  result: nil, at: now)) == true {
                logger.info("proposal \(record.id) expired")
            }
        }
    }

    private func executeApproved() async {
        let approved: [ProposalRecord]
        do {
            approved = try ledger.proposals(in: [.approved], limit: 100).reversed()
        } catch {
            logger.error("cannot read approved proposals: \(error)")
            return
        }
        for record in approved where !Task.isCancelled { await execute(record) }
    }

    private func execute(_ record: ProposalRecord) async {
        let now = Date()
        func block(_ reason: String) {
            _ = try? ledger.apply(.blockBeforeRunning, to: record.id, actor: "executor", reason: reason, detail: nil, result: nil, at: now)
            logger.warning("proposal \(record.id) blocked: \(reason)")
        }
        // Validated again now: the unit may have become protected, the pid may belong to someone else.
        let action: Action
        switch validator.validate(ProposedAction(type: record.type, parameters: record.parameters)) {
        case .failure(let rejection):
            return block("no longer valid: \(rejection.reason)")
        case .success(let valid):
            action = valid
        }
        // And what it would touch, asked again: a protected unit may have come to depend on it.
        let risk: RiskAssessment
        switch await assess(action) {
        case .failure(let rejection):
            return block("no longer valid: \(rejection.reason)")
        case .success(let assessed):
            risk = assessed
        }
        // Only proposals the policy approved are decided again; a person's approval stands.
        switch record.decidedBy == "policy" ? policy.decide(action, risk: risk, at: now, recent: (try? recentExecutions(now)) ?? [])
            : policy.decideApproved(action) {
        case .execute: break
        case .awaitApproval(let reason):
            return block("no longer runs without a person\(reason.map { ": \($0)" } ?? ""); propose it again to queue it for approval")
        case .block(let reason), .record(let reason):
            return block(reason)
        }
        let steps = ((try? action.plan(tools: tools).steps) ?? []).map(\.description).joined(separator: "; ")
        guard (try? ledger.apply(.start, to: record.id, actor: "executor", reason: nil, detail: steps, result: nil, at: now)) == true
        else { return }
        logger.notice("executing proposal \(record.id): \(steps)")
        let outcome = await executor.execute(action)
        let result = String(decoding: (try? JSONEncoder().encode(outcome)) ?? Data(), as: UTF8.self)
        let finished = ProposalTransition.finish(succeeded: outcome.succeeded)
        let state = finished.to
        do {
            _ = try ledger.apply(finished, to: record.id, actor: "executor", reason: outcome.summary,
                                 detail: outcome.calls.joined(separator: "; "), result: result, at: Date())
        } catch {
            logger.error("proposal \(record.id) \(state.rawValue) but the ledger could not record it: \(error)")
        }
        logger.log(level: outcome.succeeded ? .notice : .error, "proposal \(record.id) \(state.rawValue): \(outcome.summary)")
        notifier?.notify(Notification(kind: outcome.succeeded ? .actionExecuted : .actionFailed,
                                      title: "\(outcome.succeeded ? "Done" : "Failed"): \(action.name) (#\(record.id))",
                                      message: outcome.summary, proposalID: record.id))
    }

    /// A model's or operator's string as stored (validation sees the original).
    static func bounded(_ text: String, limit: Int = 256) -> String {
        ActionValidator.printable(text, limit: limit)
    }
}

/// Copies audit rows into the JSON-lines file, in order, each once: it resumes after the last id the file holds,
/// so a crash between the database write and the file write loses nothing and repeats nothing.
struct AuditMirror {
    let path: String
    let logger: Logger
    private var lastID: Int64?

    init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
    }

    mutating func copyNewEntries(from ledger: any ActionLedger) {
        do {
            if lastID == nil { try Self.cutTornLine(path) }
            let after = try lastID ?? Self.lastIDInFile(path)
            let entries = try ledger.audit(after: after, since: nil, unit: nil, limit: 1000)
            guard !entries.isEmpty else {
                lastID = after
                return
            }
            try AuditLine.append(entries, to: path)
            lastID = entries.last?.id
        } catch {
            logger.error("cannot write the audit log file \(path): \(error)")
        }
    }

    /// A crash mid-write can leave a last line without its newline; it is cut off (its row is written again),
    /// so the next line does not run into it.
    static func cutTornLine(_ path: String) throws {
        guard let handle = FileHandle(forUpdatingAtPath: path) else { return }
        defer { try? handle.close() }
        var end = try handle.seekToEnd()
        while end > 0 {
            let start = end > 4096 ? end - 4096 : 0
            try handle.seek(toOffset: start)
            let chunk = try handle.read(upToCount: Int(end - start)) ?? Data()
            if let newline = chunk.lastIndex(of: UInt8(ascii: "\n")) {
                let keep = start + UInt64(chunk.distance(from: chunk.startIndex, to: newline)) + 1
                if keep != (try handle.seekToEnd()) { try handle.truncate(atOffset: keep) }
                return
            }
            end = start
        }
        try handle.truncate(atOffset: 0)
    }

    static func lastIDInFile(_ path: String) throws -> Int64 {
        guard let handle = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        // The tail is enough unless the last lines are very long; then the whole file is read.
        for window in [min(size, 64 * 1024), size] {
            try handle.seek(toOffset: size - window)
            let data = try handle.readToEnd() ?? Data()
            // The last complete line; a torn last line (a crash mid-write) is ignored and its row written again.
            for line in data.split(separator: UInt8(ascii: "\n")).reversed() {
                if let entry = try? AuditLine.decoder.decode(AuditEntry.self, from: Data(line)) { return entry.id }
            }
            if window == size { break }
        }
        return 0
    }
}

/// The JSON-lines form of audit entries, shared by the daemon's file and `ai-sysadmin audit --json`.
public enum AuditLine {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    public static func encode(_ entry: AuditEntry) -> String {
        String(decoding: (try? encoder.encode(entry)) ?? Data(), as: UTF8.self)
    }

    static func append(_ entries: [AuditEntry], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        var bytes = Data()
        for entry in entries {
            bytes.append(Data(encode(entry).utf8))
            bytes.append(UInt8(ascii: "\n"))
        }
        try FileHandle(fileDescriptor: fd, closeOnDealloc: false).write(contentsOf: bytes)
    }
}
