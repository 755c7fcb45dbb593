internal import _ProcessCShims
import Foundation
import Logging
import Synchronization

/// A running child in its own process group, its output read line by line on a thread of its own.
///
/// The reader thread polls stdout and stderr, hands each line to `onLine`, keeps the last lines of stderr
/// for error reports, and once both pipes close reaps the child with `waitpid` and calls `onExit`. Reading
/// and reaping are blocking calls, so they never run on Swift's cooperative pool.
public final class ChildProcess: Sendable {
    public enum Stream: String, Sendable { case stdout, stderr }

    public let pid: Int32
    /// The process start time from /proc, which with the pid identifies this very process.
    public let startTime: UInt64
    private let exited = Mutex(false)

    private init(pid: Int32) {
        self.pid = pid
        self.startTime = ai_process_start_time(pid)
    }

    /// Starts `executable` with `arguments` and `environment` (used as given: nothing is inherited).
    ///
    /// - Parameters:
    ///   - onLine: called on the reader thread for each output line (without the newline).
    ///   - onExit: called once on the reader thread with a description ("exited with status 1", "killed by
    ///     SIGKILL") and the last lines of stderr.
    public static func launch(
        executable: String, arguments: [String], environment: [String: String], stderrTailLines: Int = 20,
        onLine: @escaping @Sendable (Stream, String) -> Void,
        onExit: @escaping @Sendable (_ description: String, _ stderrTail: [String]) -> Void
    ) async throws -> ChildProcess {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard ai_pipe_cloexec(&outPipe) == 0 else { throw SpawnError(message: "pipe: \(String(cString: strerror(errno)))") }
        guard ai_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw SpawnError(message: "pipe: \(String(cString: strerror(errno)))")
        }
        let pid: pid_t
        do {
            pid = try await ProcessLauncher.shared.spawn(
                executable: executable, arguments: arguments, environment: environment,
                stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            [outPipe[0], outPipe[1], errPipe[0], errPipe[1]].forEach { close($0) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        let child = ChildProcess(pid: pid)
        let (stdoutRead, stderrRead) = (outPipe[0], errPipe[0])
        let reader = Thread {
            let tail = readLines(stdout: stdoutRead, stderr: stderrRead, tailLines: stderrTailLines, onLine: onLine)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            child.exited.withLock { $0 = true }
            onExit(describe(status), tail)
        }
        reader.name = "ai-sysadmin-child-\(pid)"
        reader.start()
        return child
    }

    public var hasExited: Bool { exited.withLock { $0 } }

    /// Sends `signal` to the child's whole process group (llama-server and anything it started).
    public func signalGroup(_ signal: Int32) {
        guard !hasExited else { return }
        kill(-pid, signal)
    }
}

private func readLines(
    stdout: Int32, stderr: Int32, tailLines: Int, onLine: @Sendable (ChildProcess.Stream, String) -> Void
) -> [String] {
    var fds = [pollfd(fd: stdout, events: Int16(POLLIN), revents: 0), pollfd(fd: stderr, events: Int16(POLLIN), revents: 0)]
    var partial: [[UInt8]] = [[], []]
    var tail: [String] = []
    let streams: [ChildProcess.Stream] = [.stdout, .stderr]
    var buffer = [UInt8](repeating: 0, count: 65536)
    let maximumLine = 64 * 1024

    func emit(_ index: Int, _ bytes: ArraySlice<UInt8>) {
        var line = String(decoding: bytes, as: UTF8.self)
        if line.hasSuffix("\r") { line.removeLast() }
        onLine(streams[index], line)
        if index == 1 {
            tail.append(line)
            if tail.count > tailLines { tail.removeFirst(tail.count - tailLines) }
        }
    }

    while fds.contains(where: { $0.fd >= 0 }) {
        let ready = poll(&fds, nfds_t(fds.count), -1)
        if ready < 0 {
            if errno == EINTR { continue }
            break
        }
        for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
            let count = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
            if count > 0 {
                partial[index].append(contentsOf: buffer[0..<count])
                while let newline = partial[index].firstIndex(of: UInt8(ascii: "\n")) {
                    emit(index, partial[index][..<newline])
                    partial[index].removeSubrange(...newline)
                }
                if partial[index].count > maximumLine {
                    emit(index, partial[index][...])
                    partial[index].removeAll()
                }
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                if !partial[index].isEmpty { emit(index, partial[index][...]) }
                partial[index].removeAll()
                close(fds[index].fd)
                fds[index].fd = -1
            }
        }
    }
    return tail
}

private func describe(_ status: Int32) -> String {
    let signal = status & 0x7f
    if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
    let name: String = switch signal {
    case SIGKILL: "SIGKILL"
    case SIGTERM: "SIGTERM"
    case SIGSEGV: "SIGSEGV"
    case SIGABRT: "SIGABRT"
    case SIGINT: "SIGINT"
    case SIGBUS: "SIGBUS"
    case SIGILL: "SIGILL"
    default: "signal \(signal)"
    }
    return "killed by \(name)"
}
