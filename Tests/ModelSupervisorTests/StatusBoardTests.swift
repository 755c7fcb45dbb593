import SysadminConfiguration
import Testing
@testable import ModelSupervisor

@Suite struct StatusBoardTests {
    private func status(_ layer: ModelLayer, _ state: ModelLifecycle.State, uptime: Double? = nil) -> ModelStatus {
        ModelStatus(layer: layer, backend: .managed, state: state, pid: 42, endpoint: "127.0.0.1:1", uptimeSeconds: uptime,
                    restarts: 0, lastError: nil)
    }

    @Test func readyIsAnnouncedOnceWhenEveryLayerIsReady() {
        let board = StatusBoard(expectedLayers: 2)
        #expect(board.update(status(.trigger, .starting)) == .status("trigger starting"))
        #expect(board.update(status(.review, .starting)) == .status("trigger starting, review starting"))
        #expect(board.update(status(.trigger, .ready)) == .status("trigger ready, review starting"))
        #expect(board.update(status(.review, .ready)) == .ready("trigger ready, review ready"))
        #expect(board.update(status(.review, .backoff)) == .status("trigger ready, review backoff"))
        // Ready again later is a status change, not a second READY=1.
        #expect(board.update(status(.review, .ready)) == .status("trigger ready, review ready"))
    }

    @Test func probesThatChangeNothingSendNothing() {
        let board = StatusBoard(expectedLayers: 1)
        #expect(board.update(status(.meta, .ready, uptime: 1)) == .ready("meta ready"))
        #expect(board.update(status(.meta, .ready, uptime: 6)) == .none)
        #expect(board.snapshot.models.first?.uptimeSeconds == 6)
    }
}
