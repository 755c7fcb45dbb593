internal import _ProcessCShims
import Foundation
import Synchronization

/// Forks every supervised child from one thread that lives as long as the daemon.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked a child exits, not the process. Swift's
/// cooperative and Dispatch worker threads come and go, so a child forked from one of them could be killed
/// when that worker retires; forking from this permanent thread ties the children to the daemon's life.
final class ProcessLauncher: Sendable {
    static let shared = ProcessLauncher()

    private struct Job {
        let work: @Sendable () -> Void
    }

    private let queue = Mutex<[Job]>([])
    private let wakeup = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                wakeup.wait()
                let jobs = queue.withLock { jobs -> [Job] in
                    defer { jobs.removeAll() }
                    return jobs
                }
                for job in jobs { job.work() }
            }
        }
        thread.name = "ai-sysadmin-launcher"
        thread.start()
    }

    /// Runs `ai_spawn_supervised` on the launcher thread; returns the pid or throws with the errno's text.
    func spawn(executable: String, arguments: [String], environment: [String: String], stdout: Int32,
               stderr: Int32) async throws -> pid_t {
        try await withCheckedThrowingContinuation { continuation in
            queue.withLock {
                $0.append(Job {
                    let result = withCStrings([executable] + arguments) { argv in
                        withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                            ai_spawn_supervised(executable, argv, envp, stdout, stderr)
                        }
                    }
                    if result > 0 {
                        continuation.resume(returning: result)
                    } else {
                        let reason = String(cString: strerror(-result))
                        continuation.resume(throwing: SpawnError(message: "cannot start \(executable): \(reason)"))
                    }
                })
            }
            wakeup.signal()
        }
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}

/// A NULL-terminated `char *[]` for the duration of `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
