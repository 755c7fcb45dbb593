import Foundation
import Synchronization
import TestSupport

/// A deliberately simple HTTP/1.1 server on 127.0.0.1 whose behaviour each test scripts: silent, dripping,
/// answering in steps the test releases. It exists to produce the faults a real model server rarely shows
/// on demand. Each accepted connection runs `handler` on a thread of its own.
final class ScriptedHTTPServer: Sendable {
    struct Connection: Sendable {
        let fd: Int32

        /// Reads until the end of the request headers plus `Content-Length` bytes of body.
        func readRequest() -> String? {
            var data = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                if let end = findHeaderEnd(data) {
                    let head = String(decoding: data[..<end], as: UTF8.self)
                    let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                    if data.count >= end + 4 + length { return String(decoding: data, as: UTF8.self) }
                }
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard count > 0 else { return nil }
                data.append(contentsOf: buffer[0..<count])
            }
        }

        @discardableResult
        func write(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
        }

        /// Blocks until the peer closes the connection (or `timeout` passes); returns whether it closed.
        func waitForPeerClose(timeout: Duration) -> Bool {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN | 0x2000), revents: 0)
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if poll(&pfd, 1, 50) > 0 {
                    var byte: UInt8 = 0
                    if recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0 { return true }
                    if pfd.revents & Int16(0x2000 | POLLHUP | POLLERR) != 0 { return true }
                }
            }
            return false
        }

        private func findHeaderEnd(_ data: [UInt8]) -> Int? {
            guard data.count >= 4 else { return nil }
            for index in 0...(data.count - 4) where data[index] == 13 && data[index + 1] == 10 && data[index + 2] == 13 && data[index + 3] == 10 {
                return index
            }
            return nil
        }
    }

    let port: Int
    private let listener: Int32
    private final class Counter: Sendable {
        let value = Mutex(0)
    }

    private let accepted = Counter()

    /// How many TCP connections the server has accepted (to observe connection reuse).
    var acceptedConnections: Int { accepted.value.withLock { $0 } }

    init(handler: @escaping @Sendable (Connection) -> Void) throws {
        guard let (fd, port) = LoopbackSocket.bind(listenBacklog: 64) else { throw POSIXError(.EADDRINUSE) }
        self.port = port
        listener = fd
        let accepted = self.accepted
        let thread = Thread { [accepted] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                accepted.value.withLock { $0 += 1 }
                let worker = Thread {
                    handler(Connection(fd: client))
                    close(client)
                }
                worker.start()
            }
        }
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
