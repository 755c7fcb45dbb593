internal import CSystemd
import Foundation

/// Talks to the service manager through libsystemd's `sd_notify`: READY, STATUS, WATCHDOG, STOPPING.
///
/// Without `NOTIFY_SOCKET` (not started by systemd) every call is a no-op, as libsystemd defines it.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    public var isActive: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    /// Sends raw `KEY=VALUE` lines; returns whether they were delivered.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(Self.sanitize(status))") }
    public func status(_ text: String) { notify("STATUS=\(Self.sanitize(text))") }
    public func stopping() { notify("STOPPING=1") }
    public func watchdog() { notify("WATCHDOG=1") }

    /// Half of `WatchdogSec=` when the manager expects pings from this process, else `nil`.
    public var watchdogPingInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0 else { return nil }
        return Self.pingInterval(watchdogMicroseconds: microseconds)
    }

    /// Half of the manager's watchdog timeout, so one late ping is not yet a timeout.
    static func pingInterval(watchdogMicroseconds microseconds: UInt64) -> Duration? {
        microseconds > 0 ? .microseconds(Int64(microseconds / 2)) : nil
    }

    /// STATUS is one line; a newline would start a new assignment.
    static func sanitize(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }
}
