import Foundation

/// TCP sockets on 127.0.0.1 for tests: free ports, listeners with a chosen backlog.
public enum LoopbackSocket {
    /// Runs `body` with 127.0.0.1:`port` as a `sockaddr` and its length.
    private static func withAddress<R>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Binds (and, with `backlog`, listens on) 127.0.0.1:`port`; port 0 picks a free one. Returns the
    /// descriptor and the bound port, or `nil` when binding failed (the port is taken).
    public static func bind(port: Int = 0, listenBacklog backlog: Int32? = nil) -> (fd: Int32, port: Int)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withAddress(port: port) { Glibc.bind(fd, $0, $1) }
        guard bound == 0, backlog.map({ listen(fd, $0) == 0 }) ?? true else {
            close(fd)
            return nil
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A blocking TCP connection to 127.0.0.1:`port` (receive timeout 10 s), or `nil`.
    public static func connect(to port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withAddress(port: port) { Glibc.connect(fd, $0, $1) }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Opens a non-blocking connection attempt to 127.0.0.1:`port` and returns the descriptor.
    public static func startConnecting(to port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        _ = withAddress(port: port) { Glibc.connect(fd, $0, $1) }
        return fd
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freePort() -> Int {
    guard let (fd, port) = LoopbackSocket.bind() else { fatalError("cannot bind 127.0.0.1:0") }
    close(fd)
    return port
}
