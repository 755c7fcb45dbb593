import ChildProcesses
import Foundation
import Synchronization
import SysadminConfiguration
import Systemd

/// What running an action came to, recorded as it happened: every call made, the bounded output, and whether
/// the effect was verified. `succeeded` is true only when the verification passed.
public struct ExecutionOutcome: Sendable, Equatable, Codable {
    public var succeeded: Bool
    public var summary: String
    /// Each step as made (the D-Bus call or the argv), rollback steps included.
    public var calls: [String]
    /// Output of commands, at most ``ActionExecutor/outputLimit`` bytes.
    public var output: String

    public init(succeeded: Bool, summary: String, calls: [String], output: String) {
        self.succeeded = succeeded
        self.summary = summary
        self.calls = calls
        self.output = output
    }
}

/// Runs validated actions: D-Bus calls to systemd through ``SystemdManaging``, programs with argv and absolute
/// paths (a fixed environment, own process group, killed at the deadline), `kill(2)` for signals. Then verifies
/// the effect (a restarted unit is active, a killed process is gone) and, for a failed `nixos-rebuild switch`,
/// rolls back.
public struct ActionExecutor: Sendable {
    public static let outputLimit = 16 * 1024

    let systemd: any SystemdManaging
    let tools: HostTools
    let validator: ActionValidator
    let timeout: Duration
    let pollInterval: Duration

    public init(systemd: any SystemdManaging, tools: HostTools = HostTools(), validator: ActionValidator,
                timeout: Duration = .seconds(120), pollInterval: Duration = .milliseconds(200)) {
        self.systemd = systemd
        self.tools = tools
        self.validator = validator
        self.timeout = timeout
        self.pollInterval = pollInterval
    }

    public func execute(_ action: Action) async -> ExecutionOutcome {
        let plan: ActionPlan
        do {
            plan = try action.plan(tools: tools)
        } catch {
            return ExecutionOutcome(succeeded: false, summary: "not run: \(error)", calls: [], output: "")
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var calls: [String] = []
        var output = ""
        for step in plan.steps {
            calls.append(step.description)
            let result = await run(step, deadline: deadline, acceptAnyExitStatus: plan.verification == .outputCaptured)
            output += result.output
            if let failure = result.failure {
                return await rollingBack(plan, after: "\(step) failed: \(failure)", calls: calls, output: output, deadline: deadline)
            }
        }
        if let failure = await verify(plan.verification, deadline: deadline) {
            return await rollingBack(plan, after: "verification failed: \(failure)", calls: calls, output: output, deadline: deadline)
        }
        return ExecutionOutcome(succeeded: true, summary: Self.successSummary(plan.verification), calls: calls, output: Self.bounded(output))
    }

    private func rollingBack(_ plan: ActionPlan, after failure: String, calls: [String], output: String,
                             deadline: ContinuousClock.Instant) async -> ExecutionOutcome {
        var calls = calls
        var output = output
        var summary = failure
        // The rollback gets a fresh allowance: the original deadline may be what failed.
        let rollbackDeadline = max(deadline, ContinuousClock.now.advanced(by: timeout))
        for step in plan.rollback {
            calls.append("rollback: \(step)")
            let result = await run(step, deadline: rollbackDeadline)
            output += result.output
            summary += result.failure.map { "; rollback \(step) failed too: \($0)" } ?? "; rolled back"
        }
        return ExecutionOutcome(succeeded: false, summary: summary, calls: calls, output: Self.bounded(output))
    }

    private func run(_ step: ActionPlan.Step, deadline: ContinuousClock.Instant,
                     acceptAnyExitStatus: Bool = false) async -> (failure: String?, output: String) {
        do {
            switch step {
            case .systemd(let job, let unit):
                _ = try await withDeadline(deadline) { try await systemd.enqueue(job, unit: unit) }
                return (nil, "")
            case .resetFailed(let unit):
                try await withDeadline(deadline) { try await systemd.resetFailed(unit) }
                return (nil, "")
            case .signal(let pid, let signal):
                // The process is looked at again just before the signal: the pid may have been reused since the
                // proposal was validated.
                if case .failure(let rejection) = validator.validateProcess(pid) { return (rejection.reason, "") }
                guard kill(pid, signal) == 0 else { return ("kill(\(pid), \(signal)): \(String(cString: strerror(errno)))", "") }
                return (nil, "")
            case .command(let argv):
                let result = try await runCommand(argv, deadline: deadline)
                let succeeded = result.status == "exited with status 0" || (acceptAnyExitStatus && result.status.hasPrefix("exited with status"))
                return (succeeded ? nil : result.status, result.output)
            }
        } catch {
            return ("\(error)", "")
        }
    }

    private struct CommandResult {
        var status: String
        var output: String
    }

    private func runCommand(_ argv: [String], deadline: ContinuousClock.Instant) async throws -> CommandResult {
        let buffer = Mutex((text: "", truncated: false))
        let limit = Self.outputLimit
        let environment = ["PATH": tools.directories.joined(separator: ":"), "LANG": "C.UTF-8", "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""]
        let (exits, exited) = AsyncStream.makeStream(of: String.self)
        let child = try await ChildProcess.launch(
            executable: argv[0], arguments: Array(argv.dropFirst()), environment: environment,
            onLine: { _, line in
                buffer.withLock { state in
                    guard !state.truncated else { return }
                    if state.text.utf8.count + line.utf8.count + 1 > limit {
                        state.truncated = true
                        state.text += "[output truncated]\n"
                    } else {
                        state.text += line + "\n"
                    }
                }
            },
            onExit: { description, _ in
                exited.yield(description)
                exited.finish()
            })
        let killer = Task {
            try await Task.sleep(until: deadline)
            child.signalGroup(SIGKILL)
        }
        var status = "ended without a status"
        for await description in exits { status = description }
        killer.cancel()
        if status == "killed by SIGKILL", ContinuousClock.now >= deadline {
            status = "timed out after \(timeout) and was killed"
        }
        return CommandResult(status: status, output: buffer.withLock { $0.text })
    }

    /// Polls until the effect is there, it is clearly not coming (a unit went `failed`), or the deadline passes.
    private func verify(_ verification: ActionPlan.Verification, deadline: ContinuousClock.Instant) async -> String? {
        switch verification {
        case .exitStatus, .outputCaptured:
            return nil
        case .processAlive(let pid):
            return processExists(pid) ? nil : "process \(pid) is gone"
        case .processGone(let pid):
            while processExists(pid) {
                if ContinuousClock.now >= deadline { return "process \(pid) is still running" }
                try? await Task.sleep(for: pollInterval)
            }
            return nil
        case .unitNotFailed(let unit):
            do {
                let state = try await withDeadline(deadline) { try await systemd.activeState(of: unit) }
                return state == "failed" ? "\(unit) is still failed" : nil
            } catch {
                return "cannot read \(unit)'s state: \(error)"
            }
        case .unitState(let unit, let expected):
            var last = "unknown"
            while ContinuousClock.now < deadline {
                do {
                    last = try await withDeadline(deadline) { try await systemd.activeState(of: unit) }
                } catch {
                    return "cannot read \(unit)'s state: \(error)"
                }
                if last == expected { return nil }
                // Settled in another state: waiting longer will not change it.
                if last == "failed" || (expected == "active" && last == "inactive") || (expected == "inactive" && last == "active") {
                    try? await Task.sleep(for: pollInterval)
                    if let again = try? await systemd.activeState(of: unit), again == expected { return nil }
                    return "\(unit) is \(last), expected \(expected)"
                }
                try? await Task.sleep(for: pollInterval)
            }
            return "\(unit) is still \(last) at the deadline, expected \(expected)"
        }
    }

    private func processExists(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "\(validator.procRoot)/\(pid)/stat", encoding: .utf8) else { return false }
        // A zombie has ended; only its parent's wait is missing. The state follows the ")" that ends the name.
        guard let close = stat.lastIndex(of: ")") else { return true }
        return !stat[close...].hasPrefix(") Z")
    }

    private func withDeadline<T: Sendable>(_ deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(until: deadline)
                throw ExecutionTimeout()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private struct ExecutionTimeout: Error, CustomStringConvertible {
        var description: String { "no answer before the deadline" }
    }

    private static func successSummary(_ verification: ActionPlan.Verification) -> String {
        switch verification {
        case .unitState(let unit, let expected): "done; \(unit) is \(expected)"
        case .unitNotFailed(let unit): "done; \(unit) is no longer failed"
        case .processGone(let pid): "done; process \(pid) has ended"
        case .processAlive(let pid): "done; process \(pid) got the signal and is running"
        case .exitStatus: "done; the command exited with status 0"
        case .outputCaptured: "done; output captured"
        }
    }

    private static func bounded(_ text: String) -> String {
        text.utf8.count <= outputLimit ? text : String(decoding: text.utf8.prefix(outputLimit), as: UTF8.self)
    }
}
