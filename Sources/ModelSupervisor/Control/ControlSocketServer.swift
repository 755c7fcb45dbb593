internal import _ProcessCShims
import Foundation
import Logging
import ServiceLifecycle
import SysadminConfiguration

/// The daemon's Unix control socket (mode 0660 in the state directory): `ai-sysadmin status` asks it.
///
/// Requests are tiny and answered from an in-memory snapshot, so one thread accepting and answering in turn
/// is enough; a client that does not send its line within a second is dropped.
public final class ControlSocketServer: Service, Sendable {
    private let path: String
    private let logger: Logger
    private let statusProvider: @Sendable () -> SupervisorStatus

    public init(stateDirectory: String, logger: Logger, status: @escaping @Sendable () -> SupervisorStatus) {
        path = ControlProtocol.socketPath(stateDirectory: stateDirectory)
        self.logger = logger
        statusProvider = status
    }

    public func run() async throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let listener = try UnixSocket.listen(path: path, mode: 0o660)
        var stopPipe: [Int32] = [0, 0]
        guard ai_pipe_cloexec(&stopPipe) == 0 else { close(listener); throw UnixSocket.Error(message: "pipe failed") }
        let (readEnd, writeEnd) = (stopPipe[0], stopPipe[1])
        logger.notice("control socket listening", metadata: ["ai.control.path": "\(path)"])

        let statusProvider = self.statusProvider
        let done = AsyncStream<Void>.makeStream()
        let thread = Thread {
            Self.serve(listener: listener, stop: readEnd, status: statusProvider)
            done.continuation.finish()
        }
        thread.name = "ai-sysadmin-control"
        thread.start()

        try? await gracefulShutdown()
        _ = write(writeEnd, "x", 1)
        for await _ in done.stream {}
        close(listener)
        close(readEnd)
        close(writeEnd)
        unlink(path)
    }

    private static func serve(listener: Int32, stop: Int32, status: @Sendable () -> SupervisorStatus) {
        var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue } else { return } }
            if fds[1].revents != 0 { return }
            let client = ai_accept_cloexec(listener)
            guard client >= 0 else { continue }
            answer(client, status: status)
            close(client)
        }
    }

    private static func answer(_ client: Int32, status: () -> SupervisorStatus) {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let line = UnixSocket.readLine(client, limit: 4096) else { return }
        let response: ControlProtocol.Response
        if let request = try? JSONDecoder().decode(ControlProtocol.Request.self, from: Data(line.utf8)) {
            switch request.command {
            case "status": response = .init(ok: true, error: nil, status: status())
            default: response = .init(ok: false, error: "unknown command '\(request.command.prefix(64))'; known: status", status: nil)
            }
        } else {
            response = .init(ok: false, error: "the request is not a JSON object with a \"command\" string", status: nil)
        }
        guard var data = try? JSONEncoder().encode(response) else { return }
        data.append(UInt8(ascii: "\n"))
        UnixSocket.writeAll(client, data)
    }
}

/// Connects to the control socket and asks one thing.
public struct ControlClient: Sendable {
    public let path: String

    public init(stateDirectory: String) {
        path = ControlProtocol.socketPath(stateDirectory: stateDirectory)
    }

    public func status() throws -> SupervisorStatus {
        let response = try send(.init(command: "status"))
        guard response.ok, let status = response.status else {
            throw UnixSocket.Error(message: response.error ?? "the daemon sent no status")
        }
        return status
    }

    public func send(_ request: ControlProtocol.Request) throws -> ControlProtocol.Response {
        let fd = try UnixSocket.connect(path: path)
        defer { close(fd) }
        var data = try JSONEncoder().encode(request)
        data.append(UInt8(ascii: "\n"))
        UnixSocket.writeAll(fd, data)
        guard let line = UnixSocket.readLine(fd, limit: 16 * 1024 * 1024) else {
            throw UnixSocket.Error(message: "the daemon closed \(path) without answering")
        }
        return try JSONDecoder().decode(ControlProtocol.Response.self, from: Data(line.utf8))
    }
}
