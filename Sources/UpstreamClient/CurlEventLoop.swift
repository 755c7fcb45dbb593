internal import CCurl
import FoundationEssentials
import Glibc
import Synchronization

/// One dedicated thread driving a `curl_multi` handle for every transfer of a client.
///
/// Swift's cooperative pool has as many threads as cores (two here) and must never block in C, so all
/// libcurl work happens on this thread. Other threads only append commands to the inbox and wake the
/// thread with `curl_multi_wakeup`. The multi handle keeps a connection cache, so keep-alive connections
/// to a model server are reused across requests.
final class CurlEventLoop: @unchecked Sendable {
    private enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer)
        case resume(CurlTransfer)
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex<[Command]>([])
    /// Loop thread only.
    private var active: [ObjectIdentifier: CurlTransfer] = [:]
    private var easyToTransfer: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    /// The longest the loop sleeps without a wake-up; bounds how late a timeout can be noticed.
    private let maximumPoll: Duration = .milliseconds(250)
    private let threadName: String

    init(name: String) {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        // A peer that closes while we write must not kill the daemon with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed") }
        self.multi = multi
        _ = ai_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0)
        // The loop lives as long as its thread, which never ends: the retain is never given back.
        var thread = pthread_t()
        threadName = name
        let started = pthread_create(&thread, nil, { loop in
            let loop = Unmanaged<CurlEventLoop>.fromOpaque(loop!).takeUnretainedValue()
            ai_name_current_thread(loop.threadName)
            loop.runLoop()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        guard started == 0 else { fatalError("cannot start the \(name) thread: \(String(cString: strerror(started)))") }
        pthread_detach(thread)
    }

    func submit(_ transfer: CurlTransfer) {
        inbox.withLock { $0.append(.add(transfer)) }
        curl_multi_wakeup(multi)
    }

    func cancel(_ transfer: CurlTransfer) {
        inbox.withLock { $0.append(.cancel(transfer)) }
        curl_multi_wakeup(multi)
    }

    /// Resumes a transfer its consumer paused, once the consumer has room again.
    func resume(_ transfer: CurlTransfer) {
        inbox.withLock { $0.append(.resume(transfer)) }
        curl_multi_wakeup(multi)
    }

    private func runLoop() {
        while true {
            let commands = inbox.withLock { commands -> [Command] in
                defer { commands.removeAll(keepingCapacity: true) }
                return commands
            }
            for command in commands {
                switch command {
                case .add(let transfer): add(transfer)
                case .cancel(let transfer):
                    if let error = transfer.cancellation.withLock({ $0 }) { remove(transfer, error: error) }
                case .resume(let transfer):
                    if active[ObjectIdentifier(transfer)] != nil { transfer.unpause() }
                }
            }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            drainCompleted()
            expireTimeouts()

            var wait = maximumPoll
            let now = ContinuousClock.now
            for transfer in active.values {
                if let deadline = transfer.nextDeadline() {
                    wait = min(wait, max(.zero, deadline - now) + .milliseconds(1))
                }
            }
            curl_multi_poll(multi, nil, 0, Int32(wait.milliseconds), nil)
        }
    }

    private func add(_ transfer: CurlTransfer) {
        if let error = transfer.cancellation.withLock({ $0 }) {
            transfer.finish(nil, overriding: error)
            return
        }
        transfer.markStarted(at: .now)
        let code = curl_multi_add_handle(multi, transfer.easy)
        guard code == CURLM_OK else {
            transfer.finish(nil, overriding: UpstreamError(.transport, "curl_multi_add_handle: \(String(cString: curl_multi_strerror(code)))"))
            return
        }
        active[ObjectIdentifier(transfer)] = transfer
        easyToTransfer[transfer.easy] = transfer
    }

    private func remove(_ transfer: CurlTransfer, result: CURLcode? = nil, error: UpstreamError? = nil) {
        guard active.removeValue(forKey: ObjectIdentifier(transfer)) != nil else { return }
        easyToTransfer.removeValue(forKey: transfer.easy)
        curl_multi_remove_handle(multi, transfer.easy)
        transfer.finish(result, overriding: error)
    }

    private func drainCompleted() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            var result = CURLE_OK
            guard let easy = ai_curl_msg_done(message, &result), let transfer = easyToTransfer[easy] else { continue }
            remove(transfer, result: result)
        }
    }

    private func expireTimeouts() {
        let now = ContinuousClock.now
        for transfer in Array(active.values) {
            if let error = transfer.expiredTimeout(at: now) {
                remove(transfer, error: error)
            }
        }
    }
}
