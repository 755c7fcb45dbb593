internal import CSystemd
import Foundation

/// Restarts a systemd unit; the real one speaks D-Bus to systemd's manager.
public protocol SystemdUnitRestarting: Sendable {
    func restartUnit(_ name: String) async throws
}

/// `org.freedesktop.systemd1.Manager.RestartUnit(name, "replace")` over sd-bus.
///
/// Opens the system bus for each call (restarts are rare) on a thread of its own, since sd-bus calls block.
/// `busAddress` points it at another bus, e.g. a private one in tests.
public struct SdBusUnitRestarter: SystemdUnitRestarting {
    public let busAddress: String?

    public init(busAddress: String? = nil) {
        self.busAddress = busAddress
    }

    public func restartUnit(_ name: String) async throws {
        guard UnitName.isValid(name) else { throw SystemdError(message: "'\(name)' is not a valid systemd unit name") }
        let address = busAddress
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try Self.callRestart(name, address: address) })
            }
            thread.name = "ai-sysadmin-sdbus"
            thread.start()
        }
    }

    private static func callRestart(_ name: String, address: String?) throws {
        var bus: OpaquePointer?
        var r: Int32
        if let address {
            r = sd_bus_new(&bus)
            if r >= 0 { r = sd_bus_set_address(bus, address) }
            if r >= 0 { r = sd_bus_set_bus_client(bus, 1) }
            if r >= 0 { r = sd_bus_start(bus) }
        } else {
            r = sd_bus_open_system(&bus)
        }
        defer { sd_bus_flush_close_unref(bus) }
        guard r >= 0 else {
            throw SystemdError(message: "cannot connect to \(address ?? "the system bus"): \(String(cString: strerror(-r)))")
        }
        var error = ai_sd_bus_error_null()
        defer { sd_bus_error_free(&error) }
        var jobPath: UnsafeMutablePointer<CChar>?
        r = ai_sd_bus_restart_unit(bus, name, &error, &jobPath)
        free(jobPath)
        guard r >= 0 else {
            let detail = error.message.map { String(cString: $0) } ?? String(cString: strerror(-r))
            throw SystemdError(message: "RestartUnit(\(name)) failed: \(detail)")
        }
    }
}

public struct SystemdError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// systemd's unit-name rules (systemd.unit(5)): a prefix of `[A-Za-z0-9:_.\-\\@]`, a known type suffix, at
/// most 255 bytes.
public enum UnitName {
    static let suffixes = [".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target", ".path",
                           ".timer", ".slice", ".scope"]

    public static func isValid(_ name: String) -> Bool {
        guard name.utf8.count <= 255, let suffix = suffixes.first(where: { name.hasSuffix($0) }) else { return false }
        let prefix = name.dropLast(suffix.count)
        // One optional "@instance"; no leading "-", "@" or "." (systemd would take those for options or hidden
        // files, and a model's string has no business there).
        guard !prefix.isEmpty, !prefix.hasPrefix("-"), !prefix.hasPrefix("@"), !prefix.hasPrefix("."),
              prefix.filter({ $0 == "@" }).count <= 1 else { return false }
        return prefix.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || ":_.-\\@".unicodeScalars.contains(scalar))
        }
    }
}
