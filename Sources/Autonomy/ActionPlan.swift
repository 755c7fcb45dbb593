import Foundation
import SysadminConfiguration
import Systemd

/// What an ``Action`` does, step by step: D-Bus calls to systemd, argv with absolute binary paths, or a signal —
/// never a shell. Built only from a validated ``Action``, so every string in it has passed the validator.
public struct ActionPlan: Sendable, Equatable {
    public enum Step: Sendable, Equatable, CustomStringConvertible {
        case systemd(SystemdJob, unit: String)
        case resetFailed(unit: String)
        /// `argv[0]` is an absolute path.
        case command([String])
        case signal(pid: Int32, signal: Int32)

        /// The exact call, as the audit log records it.
        public var description: String {
            switch self {
            case .systemd(let job, let unit): "dbus org.freedesktop.systemd1.Manager.\(job.rawValue)(\"\(unit)\", \"replace\")"
            case .resetFailed(let unit): "dbus org.freedesktop.systemd1.Manager.ResetFailedUnit(\"\(unit)\")"
            case .command(let argv): "argv " + argv.map { "\"\($0)\"" }.joined(separator: " ")
            case .signal(let pid, let signal): "kill(\(pid), \(signal))"
            }
        }
    }

    /// How the executor knows the action had its effect; exit status alone is not enough for a unit.
    public enum Verification: Sendable, Equatable {
        case unitState(String, expected: String)
        case unitNotFailed(String)
        case processGone(Int32)
        case processAlive(Int32)
        case exitStatus
        /// Read-only commands: the output is the result, whatever the status (`systemctl status` of a stopped unit
        /// exits 3).
        case outputCaptured
    }

    public var steps: [Step]
    public var verification: Verification
    /// Run when the steps succeed but verification fails (a `nixos-rebuild switch` that left the system broken).
    public var rollback: [Step]
    /// For a person deciding on an approval: what should happen, and how it is undone.
    public var expectedEffect: String
    public var rollbackDescription: String
}

/// Absolute paths of the few programs actions run. Looked up in fixed directories, never in `PATH`.
public struct HostTools: Sendable {
    public let directories: [String]
    public let isNixOS: Bool
    /// NixOS's system profile, whose `system-N-link` generations a garbage collection thins out.
    public let systemProfile: String

    public init(directories: [String] = ["/run/current-system/sw/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"],
                isNixOS: Bool = FileManager.default.fileExists(atPath: "/etc/NIXOS"),
                systemProfile: String = "/nix/var/nix/profiles/system") {
        self.directories = directories
        self.isNixOS = isNixOS
        self.systemProfile = systemProfile
    }

    public func path(of program: String) -> String? {
        directories.lazy.map { ($0 as NSString).appendingPathComponent(program) }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public struct Missing: Error, Sendable, CustomStringConvertible {
        public let program: String
        public let directories: [String]
        public var description: String { "\(program) is not installed in \(directories.joined(separator: ", "))" }
    }

    func require(_ program: String) throws(Missing) -> String {
        guard let path = path(of: program) else { throw Missing(program: program, directories: directories) }
        return path
    }
}

extension Action {
    /// The plan for this action on this host, or which program is missing.
    public func plan(tools: HostTools) throws(HostTools.Missing) -> ActionPlan {
        switch self {
        case .restartUnit(let unit):
            return ActionPlan(steps: [.systemd(.restart, unit: unit)], verification: .unitState(unit, expected: "active"), rollback: [],
                              expectedEffect: "\(unit) is restarted and active again",
                              rollbackDescription: "none; if it does not come back, its journal says why (journalctl -u \(unit))")
        case .reloadUnit(let unit):
            return ActionPlan(steps: [.systemd(.reload, unit: unit)], verification: .unitState(unit, expected: "active"), rollback: [],
                              expectedEffect: "\(unit) re-reads its configuration without a restart",
                              rollbackDescription: "restore the previous configuration and reload again")
        case .startUnit(let unit):
            return ActionPlan(steps: [.systemd(.start, unit: unit)], verification: .unitState(unit, expected: "active"), rollback: [],
                              expectedEffect: "\(unit) is started and active", rollbackDescription: "systemctl stop \(unit)")
        case .stopUnit(let unit):
            return ActionPlan(steps: [.systemd(.stop, unit: unit)], verification: .unitState(unit, expected: "inactive"), rollback: [],
                              expectedEffect: "\(unit) is stopped", rollbackDescription: "systemctl start \(unit)")
        case .resetFailed(let unit):
            return ActionPlan(steps: [.resetFailed(unit: unit)], verification: .unitNotFailed(unit), rollback: [],
                              expectedEffect: "\(unit) leaves the failed state (its restart counter is reset)",
                              rollbackDescription: "none needed")
        case .vacuumJournal(let megabytes, let days):
            var argv = [try tools.require("journalctl")]
            if let megabytes { argv.append("--vacuum-size=\(megabytes)M") }
            if let days { argv.append("--vacuum-time=\(days)d") }
            let limits = [megabytes.map { "\($0) MB" }, days.map { "\($0) days" }].compactMap { $0 }.joined(separator: " and ")
            return ActionPlan(steps: [.command(argv)], verification: .exitStatus, rollback: [],
                              expectedEffect: "archived journal files beyond \(limits) are deleted",
                              rollbackDescription: "none: deleted journal files cannot be restored")
        case .collectGarbage(let days):
            if tools.isNixOS {
                // Not `nix-collect-garbage --delete-older-than`: that can delete the generation before the current one,
                // the rollback an operator reaches for first, and thins every other profile too.
                let generations = SystemGenerations(profile: tools.systemProfile)
                let deletable = generations.deletable(olderThanDays: days, now: Date())
                var steps: [ActionPlan.Step] = []
                if !deletable.isEmpty {
                    steps.append(.command([try tools.require("nix-env"), "--profile", tools.systemProfile, "--delete-generations"]
                                          + deletable.map(String.init)))
                }
                steps.append(.command([try tools.require("nix-store"), "--gc"]))
                let kept = generations.kept.map(String.init).joined(separator: " and ")
                let deleted = deletable.isEmpty ? "no system generation is old enough to delete"
                    : "system generations \(deletable.map(String.init).joined(separator: ", ")) (older than \(days) days) are deleted"
                return ActionPlan(steps: steps, verification: .exitStatus, rollback: [],
                                  expectedEffect: "\(deleted); store paths nothing refers to any more are freed; generations \(kept.isEmpty ? "(none found)" : kept) are kept",
                                  rollbackDescription: "none: deleted generations can no longer be booted or rolled back to")
            }
            return ActionPlan(steps: [.command([try tools.require("apt-get"), "clean"])], verification: .exitStatus, rollback: [],
                              expectedEffect: "the package manager's download cache is emptied",
                              rollbackDescription: "none needed: packages are downloaded again when required")
        case .killProcess(let pid, let signal):
            let verification: ActionPlan.Verification = signal == SIGHUP ? .processAlive(pid) : .processGone(pid)
            return ActionPlan(steps: [.signal(pid: pid, signal: signal)], verification: verification, rollback: [],
                              expectedEffect: signal == SIGHUP ? "process \(pid) receives SIGHUP (most daemons reload)" : "process \(pid) ends",
                              rollbackDescription: "none: a killed process is only back if its unit restarts it")
        case .nixosRebuild(let mode):
            let rebuild = try tools.require("nixos-rebuild")
            return ActionPlan(steps: [.command([rebuild, mode.rawValue])], verification: .exitStatus,
                              rollback: mode == .switchTo ? [.command([rebuild, "switch", "--rollback"])] : [],
                              expectedEffect: "the current configuration is built and \(mode == .boot ? "made the boot default" : "activated")",
                              rollbackDescription: mode == .switchTo ? "nixos-rebuild switch --rollback (run automatically if the switch fails)"
                                  : "nixos-rebuild \(mode.rawValue) --rollback")
        case .investigate(let investigation):
            let argv: [String]
            switch investigation {
            case .unitStatus(let unit):
                argv = [try tools.require("systemctl"), "status", "--no-pager", "--lines=20", "--", unit]
            case .unitJournal(let unit, let lines):
                argv = [try tools.require("journalctl"), "--unit=\(unit)", "--lines=\(lines)", "--no-pager", "--output=short-iso"]
            case .diskUsage:
                argv = [try tools.require("df"), "--human-readable", "--local", "--output=target,size,used,avail,pcent"]
            case .processList:
                argv = [try tools.require("ps"), "-eo", "pid,user,pcpu,pmem,etime,comm", "--sort=-pcpu"]
            }
            return ActionPlan(steps: [.command(argv)], verification: .outputCaptured, rollback: [],
                              expectedEffect: "read-only: nothing changes", rollbackDescription: "none needed")
        }
    }
}

/// NixOS's system generations, from the profile's links (`system-41-link`, dated by the link itself, as `nix-env`
/// dates them), and which of them a garbage collection may delete: never the current one, the one before it (the
/// first rollback), or any newer one.
struct SystemGenerations {
    /// Generation numbers with their links' dates.
    let generations: [(number: Int, created: Date)]
    /// The generation `system` points at.
    let current: Int?

    init(profile: String) {
        let directory = (profile as NSString).deletingLastPathComponent
        let name = (profile as NSString).lastPathComponent
        let links = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        generations = links.compactMap { link in
            guard link.hasPrefix(name + "-"), link.hasSuffix("-link"),
                  let number = Int(link.dropFirst(name.count + 1).dropLast(5)),
                  let date = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + link))?[.modificationDate] as? Date
            else { return nil }
            return (number, date)
        }.sorted { $0.number < $1.number }
        current = (try? FileManager.default.destinationOfSymbolicLink(atPath: profile))
            .flatMap { Int(($0 as NSString).lastPathComponent.dropFirst(name.count + 1).dropLast(5)) }
    }

    /// The current generation and the one before it.
    var kept: [Int] {
        guard let current else { return [] }
        return (generations.last { $0.number < current }.map { [$0.number] } ?? []) + [current]
    }

    func deletable(olderThanDays days: Int, now: Date) -> [Int] {
        // Without a current generation nothing can be told apart safely.
        guard let current else { return [] }
        let cutoff = now.addingTimeInterval(-Double(days) * 86400)
        return generations.filter { $0.number < current && !kept.contains($0.number) && $0.created < cutoff }.map(\.number)
    }
}
