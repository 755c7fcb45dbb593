import Glibc
import Synchronization

/// Whether the daemon's agent socket is there (so a request must take its turn on the daemon's slots), looked at
/// no more than once a second rather than with a `stat` per request. A daemon that has just started is seen
/// within that second; until then requests go to the model server's own queue, as with no daemon at all.
final class DaemonSocketWatch: Sendable {
    private let path: String
    private let seen = Mutex<(at: ContinuousClock.Instant, exists: Bool)?>(nil)

    init(path: String) {
        self.path = path
    }

    var exists: Bool {
        let now = ContinuousClock.now
        if let seen = seen.withLock({ $0 }), now - seen.at < .seconds(1) { return seen.exists }
        let exists = access(path, F_OK) == 0
        seen.withLock { $0 = (now, exists) }
        return exists
    }
}
