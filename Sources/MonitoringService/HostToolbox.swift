import Foundation
import Monitoring
import Reasoning
import Store
import SysadminConfiguration
import Systemd

/// The analysis's read-only tools over this host: the store (events, metric history, knowledge), systemd over
/// D-Bus, /proc and the mounted file systems. Every argument came from a model and is checked here; nothing runs
/// a program, and every answer is bounded text.
public struct HostToolbox: AnalysisToolbox {
    /// The events and metric readings the tools read.
    let store: any EventStore & MetricStore
    let systemd: (any SystemdManaging)?
    let knowledge: KnowledgeBase
    /// Where the `journal` tool reads: the journal (nil: the system's, a path: that directory's), or, when
    /// `useJournal` is false (a host without one), the events the store kept.
    let useJournal: Bool
    let journalDirectory: String?
    let procRoot: String

    public init(store: any EventStore & MetricStore & KnowledgeStore, systemd: (any SystemdManaging)?, knowledge: KnowledgeBase? = nil,
                journal: (use: Bool, directory: String?) = (false, nil), procRoot: String = "/proc") {
        self.store = store
        self.systemd = systemd
        self.knowledge = knowledge ?? KnowledgeBase(store: store)
        self.useJournal = journal.use
        self.journalDirectory = journal.directory
        self.procRoot = procRoot
    }

    public func run(_ tool: String, arguments: [String: String]) async -> String {
        func hours() -> Double { min(max(Double(arguments["hours"] ?? "") ?? 24, 1), 168) }
        func unit() -> String? { arguments["unit"].flatMap { UnitName.isValid($0) ? $0 : nil } }
        let formatter = ISO8601DateFormatter()
        switch tool {
        case "journal":
            guard let unit = unit() else { return "error: 'unit' must be a systemd unit name such as nginx.service" }
            let since = Date().addingTimeInterval(-hours() * 3600)
            if useJournal {
                do {
                    let entries = try JournalReader.entries(unit: unit, since: since, limit: 40, directory: journalDirectory)
                    if entries.isEmpty { return "no journal entries of \(unit) in the last \(Int(hours())) hours" }
                    return entries.map { entry in
                        let time = entry.timestampMicroseconds.map { formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1_000_000)) } ?? "-"
                        return "\(time) \(entry.priority.map { "<\($0)> " } ?? "")\(entry.message.prefix(300))"
                    }.joined(separator: "\n")
                } catch {
                    return "error: \(error)"
                }
            }
            let events = (try? store.events(ofUnit: unit, since: since, limit: 40)) ?? []
            if events.isEmpty { return "no stored events of \(unit) in the last \(Int(hours())) hours" }
            return events.map { event in
                "\(formatter.string(from: Date(timeIntervalSince1970: Double(event.timeMicroseconds) / 1_000_000))) [\(event.severity.rawValue)] \(event.message.prefix(300))"
            }.joined(separator: "\n")
        case "unit_status":
            guard let unit = unit() else { return "error: 'unit' must be a systemd unit name such as nginx.service" }
            guard let systemd else { return "unknown: systemd is not reachable on this host" }
            do {
                return "\(unit) is \(try await systemd.activeState(of: unit))"
            } catch {
                return "error: \(error)"
            }
        case "metric_history":
            guard let metric = arguments["metric"], ["cpu", "memory", "swap", "load_per_cpu"].contains(metric)
                    || (metric.hasPrefix("disk:/") && metric.count < 200) else {
                return "error: 'metric' must be cpu, memory, swap, load_per_cpu or disk:/mount"
            }
            let readings = (try? store.metricHistory(metric, since: Date().addingTimeInterval(-hours() * 3600))) ?? []
            guard let last = readings.last else { return "no readings of \(metric) in the last \(Int(hours())) hours" }
            let values = readings.map(\.value)
            let stride = max(1, readings.count / 12)
            let points = Swift.stride(from: 0, to: readings.count, by: stride).map { index in
                "\(formatter.string(from: readings[index].time)) \(Self.round(readings[index].value))"
            }
            return "\(metric): \(readings.count) readings, min \(Self.round(values.min()!)), max \(Self.round(values.max()!)), last \(Self.round(last.value))\n"
                + points.joined(separator: "\n")
        case "processes":
            return processes()
        case "disk_usage":
            var sampler = MetricSampler()
            guard let sample = sampler.sample(), !sample.diskPercent.isEmpty else { return "no mounted file systems could be read" }
            return sample.diskPercent.sorted { $0.key < $1.key }.map { "\($0.key) \(Int($0.value))% used" }.joined(separator: "\n")
        case "knowledge_search":
            let query = String((arguments["query"] ?? "").prefix(200))
            let notes = (try? await knowledge.search(query, limit: 5)) ?? []
            if notes.isEmpty { return "no notes match '\(query)'" }
            return notes.map { "\($0.title): \($0.body.prefix(500))" }.joined(separator: "\n---\n")
        default:
            return "unknown tool"
        }
    }

    /// The 15 processes with the largest resident memory, from /proc/PID/status.
    func processes() -> String {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: procRoot)) ?? []).filter { $0.allSatisfy(\.isNumber) }
        var rows: [(pid: String, name: String, kilobytes: Int)] = []
        for pid in pids {
            guard let status = try? String(contentsOfFile: "\(procRoot)/\(pid)/status", encoding: .utf8) else { continue }
            var name = "?"
            var rss = 0
            for line in status.split(separator: "\n") {
                if line.hasPrefix("Name:") { name = line.dropFirst(5).trimmingCharacters(in: .whitespaces) }
                if line.hasPrefix("VmRSS:") { rss = Int(line.dropFirst(6).split(separator: " ").first ?? "") ?? 0 }
            }
            rows.append((pid, String(name.prefix(32)), rss))
        }
        return rows.sorted { $0.kilobytes > $1.kilobytes }.prefix(15)
            .map { "pid \($0.pid) \($0.name) \($0.kilobytes / 1024) MiB" }.joined(separator: "\n")
    }

    private static func round(_ value: Double) -> String { String(format: "%.1f", value) }
}
