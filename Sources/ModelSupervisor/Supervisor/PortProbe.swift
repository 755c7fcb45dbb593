import Foundation
import SysadminConfiguration

/// Checks that a TCP port is free before a server is started on it, so "port taken" is reported as such
/// instead of as a crash of the child.
enum PortProbe {
    /// `nil` when `host:port` can be bound; otherwise why not.
    static func problem(host: String, port: Int) -> String? {
        let isIPv6 = host.contains(":")
        let fd = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var one: Int32 = 1
        // llama-server binds with SO_REUSEADDR too; without it a port in TIME_WAIT would look taken.
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let result: Int32
        if isIPv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            let literal = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            guard inet_pton(AF_INET6, literal, &address.sin6_addr) == 1 else { return nil }
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let literal = host == "localhost" ? "127.0.0.1" : host
            guard inet_pton(AF_INET, literal, &address.sin_addr) == 1 else { return nil } // a name: let llama-server resolve it
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result != 0 else { return nil }
        let reason = errno == EADDRINUSE ? "is already in use by another process" : String(cString: strerror(errno))
        return "port \(port) on \(host) \(reason)"
    }
}
