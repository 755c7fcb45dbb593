internal import CSystemd
import Foundation
import SysadminConfiguration

/// The part of systemd's manager the executor uses. The real one (``SdBusSystemdManager``) speaks D-Bus; where
/// PID 1 is not systemd, tests put a stand-in on a private bus behind the same D-Bus interface.
public protocol SystemdManaging: Sendable {
    /// Queues a job (`StartUnit`, `StopUnit`, `RestartUnit`, `ReloadUnit` with mode "replace"); returns its path.
    func enqueue(_ job: SystemdJob, unit: String) async throws -> String
    func resetFailed(_ unit: String) async throws
    /// The unit's `ActiveState` (active, reloading, inactive, failed, activating, deactivating).
    func activeState(of unit: String) async throws -> String
    /// The units in the failed state (`ListUnitsFiltered(["failed"])`).
    func failedUnits() async throws -> [String]
    /// Each unit's load state, dependencies and emergency actions, read over one connection.
    func relations(of units: [String]) async throws -> [String: UnitRelations]
}

/// What systemd's manager says about a unit's place among the others: what the executor's fences need to know
/// what else an action on it would touch.
public struct UnitRelations: Sendable, Equatable {
    /// `LoadState`: loaded, not-found, masked, bad-setting, error.
    public var loadState: String
    /// The list-valued dependency properties that are not empty, by name (`RequiredBy`: ["sshd.service"]).
    public var dependencies: [String: [String]]
    /// The emergency actions that are set, by name (`FailureAction`: "reboot"); "none" is left out.
    public var emergencyActions: [String: String]

    public init(loadState: String, dependencies: [String: [String]] = [:], emergencyActions: [String: String] = [:]) {
        self.loadState = loadState
        self.dependencies = dependencies
        self.emergencyActions = emergencyActions
    }

    /// Read from `org.freedesktop.systemd1.Unit`; one an older systemd does not have counts as empty.
    public static let dependencyProperties = [
        "Requires", "Wants", "BindsTo", "Upholds", "OnFailure", "OnSuccess",
        "RequiredBy", "BoundBy", "ConsistsOf", "PropagatesStopTo", "PropagatesReloadTo", "Conflicts", "ConflictedBy",
    ]
    public static let emergencyActionProperties = ["SuccessAction", "FailureAction", "StartLimitAction", "JobTimeoutAction"]

    public func units(_ property: String) -> [String] { dependencies[property] ?? [] }
}

public enum SystemdJob: String, Sendable, CaseIterable {
    case start = "StartUnit"
    case stop = "StopUnit"
    case restart = "RestartUnit"
    case reload = "ReloadUnit"
}

/// `org.freedesktop.systemd1.Manager` over sd-bus.
///
/// Each call opens its own connection on a thread of its own: sd-bus calls block, and actions are rare.
/// `busAddress` points it at another bus, e.g. a private one in tests. Unit names are checked against systemd's
/// rules here too, so nothing unvalidated reaches the bus whoever the caller is.
public struct SdBusSystemdManager: SystemdManaging {
    public let busAddress: String?

    public init(busAddress: String? = nil) {
        self.busAddress = busAddress
    }

    public var busDescription: String { busAddress ?? "the system bus" }

    public func enqueue(_ job: SystemdJob, unit: String) async throws -> String {
        try Self.checkName(unit)
        return try await onBus { bus in
            var error = ai_sd_bus_error_null()
            defer { sd_bus_error_free(&error) }
            var jobPath: UnsafeMutablePointer<CChar>?
            let r = ai_sd_bus_unit_job(bus, job.rawValue, unit, "replace", &error, &jobPath)
            defer { free(jobPath) }
            guard r >= 0 else { throw Self.failure("\(job.rawValue)(\(unit), replace)", r, error) }
            return jobPath.map { String(cString: $0) } ?? ""
        }
    }

    public func resetFailed(_ unit: String) async throws {
        try Self.checkName(unit)
        try await onBus { bus in
            var error = ai_sd_bus_error_null()
            defer { sd_bus_error_free(&error) }
            let r = ai_sd_bus_reset_failed(bus, unit, &error)
            guard r >= 0 else { throw Self.failure("ResetFailedUnit(\(unit))", r, error) }
        }
    }

    public func activeState(of unit: String) async throws -> String {
        try Self.checkName(unit)
        return try await onBus { bus in
            var error = ai_sd_bus_error_null()
            defer { sd_bus_error_free(&error) }
            var path: UnsafeMutablePointer<CChar>?
            var r = ai_sd_bus_load_unit(bus, unit, &error, &path)
            defer { free(path) }
            guard r >= 0, let path else { throw Self.failure("LoadUnit(\(unit))", r, error) }
            var state: UnsafeMutablePointer<CChar>?
            r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit", "ActiveState",
                                           &error, &state)
            defer { free(state) }
            guard r >= 0, let state else { throw Self.failure("Get(\(unit), ActiveState)", r, error) }
            return String(cString: state)
        }
    }

    public func failedUnits() async throws -> [String] {
        try await onBus { bus in
            var error = ai_sd_bus_error_null()
            defer { sd_bus_error_free(&error) }
            var names: UnsafeMutablePointer<CChar>?
            let r = ai_sd_bus_failed_units(bus, &error, &names)
            defer { free(names) }
            guard r >= 0, let names else { throw Self.failure("ListUnitsFiltered([failed])", r, error) }
            // Names come from systemd, but are checked like any other: only valid unit names are reported.
            return String(cString: names).split(separator: "\n").map(String.init).filter(UnitName.isValid)
        }
    }

    public func relations(of units: [String]) async throws -> [String: UnitRelations] {
        for unit in units { try Self.checkName(unit) }
        return try await onBus { bus in
            var result: [String: UnitRelations] = [:]
            for unit in units {
                var error = ai_sd_bus_error_null()
                defer { sd_bus_error_free(&error) }
                var path: UnsafeMutablePointer<CChar>?
                let r = ai_sd_bus_load_unit(bus, unit, &error, &path)
                defer { free(path) }
                guard r >= 0, let path else {
                    // systemd itself answers LoadUnit with a "not-found" unit; a stand-in may say NoSuchUnit.
                    if sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit") != 0 {
                        result[unit] = UnitRelations(loadState: "not-found")
                        continue
                    }
                    throw Self.failure("LoadUnit(\(unit))", r, error)
                }
                guard var relations = try Self.stringProperty(bus, path, "LoadState", of: unit).map({ UnitRelations(loadState: $0) }) else {
                    throw SystemdError(message: "\(unit) has no LoadState")
                }
                for property in UnitRelations.dependencyProperties {
                    // Names come from systemd, but are checked like any other.
                    let names = try Self.listProperty(bus, path, property, of: unit).filter(UnitName.isValid)
                    if !names.isEmpty { relations.dependencies[property] = names }
                }
                for property in UnitRelations.emergencyActionProperties {
                    if let action = try Self.stringProperty(bus, path, property, of: unit), !action.isEmpty, action != "none" {
                        relations.emergencyActions[property] = String(action.prefix(64))
                    }
                }
                result[unit] = relations
            }
            return result
        }
    }

    /// A string property of a unit object; nil when this systemd does not have it.
    private static func stringProperty(_ bus: OpaquePointer?, _ path: UnsafeMutablePointer<CChar>, _ property: String,
                                       of unit: String) throws -> String? {
        var error = ai_sd_bus_error_null()
        defer { sd_bus_error_free(&error) }
        var value: UnsafeMutablePointer<CChar>?
        let r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit", property, &error, &value)
        defer { free(value) }
        if r < 0 {
            if isUnknownProperty(error) { return nil }
            throw failure("Get(\(unit), \(property))", r, error)
        }
        return value.map { String(cString: $0) }
    }

    /// A string-array property of a unit object; empty when this systemd does not have it.
    private static func listProperty(_ bus: OpaquePointer?, _ path: UnsafeMutablePointer<CChar>, _ property: String,
                                     of unit: String) throws -> [String] {
        var error = ai_sd_bus_error_null()
        defer { sd_bus_error_free(&error) }
        var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let r = sd_bus_get_property_strv(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Unit", property, &error, &list)
        if r < 0 {
            if isUnknownProperty(error) { return [] }
            throw failure("Get(\(unit), \(property))", r, error)
        }
        var names: [String] = []
        if let list {
            var index = 0
            while let item = list[index] {
                names.append(String(cString: item))
                free(item)
                index += 1
            }
            free(list)
        }
        return names
    }

    private static func isUnknownProperty(_ error: sd_bus_error) -> Bool {
        var error = error
        return sd_bus_error_has_name(&error, "org.freedesktop.DBus.Error.UnknownProperty") != 0
    }

    /// The system bus when PID 1 is systemd, or `address` when one is configured; nil where neither exists.
    public static func available(address: String?) -> SdBusSystemdManager? {
        if let address { return SdBusSystemdManager(busAddress: address) }
        return FileManager.default.fileExists(atPath: "/run/systemd/system") ? SdBusSystemdManager() : nil
    }

    private static func checkName(_ unit: String) throws {
        guard UnitName.isValid(unit) else { throw SystemdError(message: "'\(unit.prefix(80))' is not a valid systemd unit name") }
    }

    private static func failure(_ call: String, _ r: Int32, _ error: sd_bus_error) -> SystemdError {
        let detail = error.message.map { String(cString: $0) } ?? String(cString: strerror(-r))
        return SystemdError(message: "\(call) failed: \(detail)")
    }

    private func onBus<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer?) throws -> T) async throws -> T {
        let address = busAddress
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result {
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
                    return try body(bus)
                })
            }
            thread.name = "ai-sysadmin-sdbus"
            thread.start()
        }
    }
}
