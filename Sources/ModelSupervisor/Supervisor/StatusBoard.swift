import Synchronization

/// The latest status of every layer, shared by the controllers (writers), the control socket and
/// `sd_notify` (readers).
final class StatusBoard: Sendable {
    private struct State {
        var models: [ModelLayer: ModelStatus] = [:]
        var readyAnnounced = false
    }

    private let state = Mutex(State())
    private let expectedLayers: Int

    init(expectedLayers: Int) {
        self.expectedLayers = expectedLayers
    }

    /// Stores `status` and returns the new snapshot, and whether this update made every layer Ready for the
    /// first time (the moment to send `READY=1`).
    func update(_ status: ModelStatus) -> (snapshot: SupervisorStatus, firstAllReady: Bool) {
        state.withLock { state in
            state.models[status.layer] = status
            let snapshot = SupervisorStatus(models: ModelLayer.allCases.compactMap { state.models[$0] })
            let allReady = snapshot.models.count == expectedLayers && snapshot.allReady
            let first = allReady && !state.readyAnnounced
            if first { state.readyAnnounced = true }
            return (snapshot, first)
        }
    }

    var snapshot: SupervisorStatus {
        state.withLock { state in SupervisorStatus(models: ModelLayer.allCases.compactMap { state.models[$0] }) }
    }
}
