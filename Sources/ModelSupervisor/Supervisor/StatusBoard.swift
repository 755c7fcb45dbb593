import Synchronization
import SysadminConfiguration

/// The latest status of every layer, shared by the controllers (writers), the control socket and
/// `sd_notify` (readers).
final class StatusBoard: Sendable {
    private struct State {
        var models: [ModelLayer: ModelStatus] = [:]
        var gateway: ServerStatus?
        var readyAnnounced = false
        var lastSummary = ""
    }

    private let state = Mutex(State())
    private let expectedLayers: Int

    init(expectedLayers: Int) {
        self.expectedLayers = expectedLayers
    }

    /// What an update means for the service manager.
    enum Announcement: Equatable {
        case none
        /// The one-line summary changed: send `STATUS=`.
        case status(String)
        /// Every layer is Ready for the first time: send `READY=1` with the summary.
        case ready(String)
    }

    /// Stores `status` and says what, if anything, to tell the service manager.
    func update(_ status: ModelStatus) -> Announcement {
        update { $0.models[status.layer] = status }
    }

    /// Stores the gateway's status; `READY=1` does not wait for it (the models are what the daemon serves).
    func update(_ status: ServerStatus) -> Announcement {
        update { $0.gateway = status }
    }

    private func update(_ change: (inout State) -> Void) -> Announcement {
        state.withLock { state in
            change(&state)
            let snapshot = SupervisorStatus(models: ModelLayer.allCases.compactMap { state.models[$0] }, gateway: state.gateway)
            let summary = snapshot.summaryLine
            if snapshot.models.count == expectedLayers, snapshot.allReady, !state.readyAnnounced {
                state.readyAnnounced = true
                state.lastSummary = summary
                return .ready(summary)
            }
            guard summary != state.lastSummary else { return .none }
            state.lastSummary = summary
            return .status(summary)
        }
    }

    /// Announces readiness now, whatever the models' states (once): for a daemon whose model servers someone
    /// else runs, which cannot make them come up and must not hold `systemctl start` (or `nixos-rebuild switch`)
    /// until a model has downloaded and loaded.
    func readyNow() -> String? {
        state.withLock { state in
            guard !state.readyAnnounced else { return nil }
            state.readyAnnounced = true
            let summary = SupervisorStatus(models: ModelLayer.allCases.compactMap { state.models[$0] }, gateway: state.gateway).summaryLine
            state.lastSummary = summary
            return summary
        }
    }

    var snapshot: SupervisorStatus {
        state.withLock { state in
            SupervisorStatus(models: ModelLayer.allCases.compactMap { state.models[$0] }, gateway: state.gateway)
        }
    }
}
