import Foundation

/// Restarts a systemd unit; the real one speaks D-Bus to systemd's manager.
public protocol SystemdUnitRestarting: Sendable {
    func restartUnit(_ name: String) async throws
}

/// `org.freedesktop.systemd1.Manager.RestartUnit(name, "replace")` over sd-bus (see ``SdBusSystemdManager``).
public struct SdBusUnitRestarter: SystemdUnitRestarting {
    public let busAddress: String?

    public init(busAddress: String? = nil) {
        self.busAddress = busAddress
    }

    public func restartUnit(_ name: String) async throws {
        _ = try await SdBusSystemdManager(busAddress: busAddress).enqueue(.restart, unit: name)
    }
}

public struct SystemdError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
