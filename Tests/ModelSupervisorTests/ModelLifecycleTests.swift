import SysadminConfiguration
import Testing
@testable import ModelSupervisor

@Suite struct ModelLifecycleTests {
    let t0 = ContinuousClock.now
    let policy = ModelLifecycle.Policy(missesBeforeRestart: 3, crashLoopFailures: 3, stablePeriod: .seconds(60),
                                       backoff: .init(initial: .seconds(1), maximum: .seconds(8)))

    private func readyMachine() -> ModelLifecycle {
        var machine = ModelLifecycle(policy: policy)
        _ = machine.handle(.startRequested, at: t0)
        _ = machine.handle(.health(.ready), at: t0 + .seconds(1))
        return machine
    }

    @Test func startSpawnsAndBecomesReadyOnHealth200() {
        var machine = ModelLifecycle(policy: policy)
        #expect(machine.handle(.startRequested, at: t0) == .spawn)
        #expect(machine.state == .starting)
        #expect(machine.handle(.health(.loading), at: t0 + .milliseconds(500)) == .none)
        #expect(machine.state == .starting)
        #expect(machine.handle(.health(.ready), at: t0 + .seconds(1)) == .none)
        #expect(machine.state == .ready)
        #expect(machine.readySince == t0 + .seconds(1))
        #expect(machine.restarts == 0)
    }

    @Test func exitWhileReadyBacksOffThenRestartsAndCounts() {
        var machine = readyMachine()
        #expect(machine.handle(.exited(description: "killed by SIGKILL", stderrTail: ["boom"]), at: t0 + .seconds(2))
            == .scheduleRestart(after: .seconds(1)))
        #expect(machine.state == .backoff)
        #expect(machine.lastError == "killed by SIGKILL\nboom")
        #expect(machine.handle(.backoffElapsed, at: t0 + .seconds(3)) == .spawn)
        #expect(machine.state == .restarting)
        #expect(machine.restarts == 1)
        _ = machine.handle(.health(.ready), at: t0 + .seconds(4))
        #expect(machine.state == .ready)
    }

    @Test func missedProbesMarkUnhealthyThenHungAfterN() {
        var machine = readyMachine()
        #expect(machine.handle(.health(.down("timeout")), at: t0 + .seconds(5)) == .none)
        #expect(machine.state == .unhealthy)
        #expect(machine.handle(.health(.down("timeout")), at: t0 + .seconds(10)) == .none)
        let action = machine.handle(.health(.down("timeout")), at: t0 + .seconds(15))
        guard case .terminate(let reason, let graceful) = action else {
            Issue.record("expected terminate, got \(action)")
            return
        }
        #expect(!graceful)
        #expect(reason.contains("3 misses"))
        // The exit that follows reports why the process was killed.
        _ = machine.handle(.exited(description: "killed by SIGKILL", stderrTail: []), at: t0 + .seconds(16))
        #expect(machine.lastError?.hasPrefix("stopped answering /health") == true)
        #expect(machine.state == .backoff)
    }

    @Test func oneGoodProbeHealsAnUnhealthyServer() {
        var machine = readyMachine()
        _ = machine.handle(.health(.down("timeout")), at: t0 + .seconds(5))
        _ = machine.handle(.health(.ready), at: t0 + .seconds(10))
        #expect(machine.state == .ready)
        #expect(machine.missedProbes == 0)
        #expect(machine.readySince == t0 + .seconds(1))
    }

    @Test func repeatedCrashesBackOffExponentiallyThenFailAtTheCapAndKeepRetrying() {
        var machine = ModelLifecycle(policy: policy)
        _ = machine.handle(.startRequested, at: t0)
        var delays: [ModelLifecycle.Action] = []
        for attempt in 1...4 {
            delays.append(machine.handle(.exited(description: "exited with status 1", stderrTail: ["bad"]), at: t0 + .seconds(attempt * 10)))
            if attempt < 4 { #expect(machine.handle(.backoffElapsed, at: t0 + .seconds(attempt * 10 + 5)) == .spawn) }
        }
        #expect(delays == [.scheduleRestart(after: .seconds(1)), .scheduleRestart(after: .seconds(2)),
                           .scheduleRestart(after: .seconds(8)), .scheduleRestart(after: .seconds(8))])
        #expect(machine.state == .failed)
        #expect(machine.lastError == "exited with status 1\nbad")
        // Failed is not the end: the daemon keeps trying at the cap.
        #expect(machine.handle(.backoffElapsed, at: t0 + .seconds(60)) == .spawn)
        #expect(machine.state == .restarting)
    }

    @Test func aStableRunResetsTheFailureCount() {
        var machine = ModelLifecycle(policy: policy)
        _ = machine.handle(.startRequested, at: t0)
        _ = machine.handle(.exited(description: "crash", stderrTail: []), at: t0 + .seconds(1))
        _ = machine.handle(.backoffElapsed, at: t0 + .seconds(2))
        _ = machine.handle(.exited(description: "crash", stderrTail: []), at: t0 + .seconds(3))
        #expect(machine.consecutiveFailures == 2)
        _ = machine.handle(.backoffElapsed, at: t0 + .seconds(5))
        _ = machine.handle(.health(.ready), at: t0 + .seconds(6))
        _ = machine.handle(.health(.ready), at: t0 + .seconds(100))
        #expect(machine.handle(.exited(description: "crash", stderrTail: []), at: t0 + .seconds(101))
            == .scheduleRestart(after: .seconds(1)))
        #expect(machine.consecutiveFailures == 1)
    }

    @Test func spawnFailureIsFailedAtOnce() {
        var machine = ModelLifecycle(policy: policy)
        _ = machine.handle(.startRequested, at: t0)
        #expect(machine.handle(.spawnFailed("model file /x.gguf does not exist"), at: t0) == .scheduleRestart(after: .seconds(8)))
        #expect(machine.state == .failed)
        #expect(machine.lastError == "model file /x.gguf does not exist")
    }

    @Test func startTimeoutKillsTheProcess() {
        var machine = ModelLifecycle(policy: policy)
        _ = machine.handle(.startRequested, at: t0)
        guard case .terminate(let reason, false) = machine.handle(.startTimedOut(.seconds(600)), at: t0 + .seconds(600)) else {
            Issue.record("expected a hard terminate")
            return
        }
        #expect(reason.contains("start timeout"))
        // Once Ready, a late start-timeout timer changes nothing.
        var ready = readyMachine()
        #expect(ready.handle(.startTimedOut(.seconds(600)), at: t0 + .seconds(600)) == .none)
        #expect(ready.state == .ready)
    }

    @Test func stopTerminatesGracefullyAndEndsOnExit() {
        var machine = readyMachine()
        #expect(machine.handle(.stopRequested, at: t0 + .seconds(5)) == .terminate(reason: "stop requested", graceful: true))
        #expect(machine.state == .stopping)
        // A probe answering while stopping must not revive it.
        #expect(machine.handle(.health(.ready), at: t0 + .seconds(5)) == .none)
        #expect(machine.handle(.exited(description: "exited with status 0", stderrTail: []), at: t0 + .seconds(6)) == .stopped)
        #expect(machine.state == .stopped)
        #expect(machine.restarts == 0)
    }

    @Test func stopDuringBackoffEndsAtOnceAndTheTimerIsIgnored() {
        var machine = readyMachine()
        _ = machine.handle(.exited(description: "crash", stderrTail: []), at: t0 + .seconds(2))
        #expect(machine.handle(.stopRequested, at: t0 + .seconds(2)) == .stopped)
        #expect(machine.handle(.backoffElapsed, at: t0 + .seconds(3)) == .none)
        #expect(machine.state == .stopped)
    }
}

@Suite struct RestartBackoffTests {
    @Test func doublesFromInitialUpToTheCap() {
        let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(5))
        #expect((1...6).map { backoff.delay(afterFailures: $0) }
            == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
        #expect(backoff.delay(afterFailures: 10_000) == .seconds(5))
        #expect(backoff.delay(afterFailures: 0) == .milliseconds(500))
    }
}
