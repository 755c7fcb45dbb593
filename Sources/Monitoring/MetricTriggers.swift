import Foundation

/// One reading of the host, from /proc and statvfs — no tool is spawned.
public struct MetricSample: Sendable, Equatable {
    /// Percent of CPU time busy since the previous sample (nil for the first).
    public var cpuPercent: Double?
    public var memoryPercent: Double
    /// nil without swap.
    public var swapPercent: Double?
    public var loadPerCPU: Double
    /// Mount point → percent used, for real file systems.
    public var diskPercent: [String: Double]

    public init(cpuPercent: Double?, memoryPercent: Double, swapPercent: Double?, loadPerCPU: Double, diskPercent: [String: Double]) {
        self.cpuPercent = cpuPercent
        self.memoryPercent = memoryPercent
        self.swapPercent = swapPercent
        self.loadPerCPU = loadPerCPU
        self.diskPercent = diskPercent
    }

    /// The readings by the names the store keeps them under.
    public var named: [String: Double] {
        var values: [String: Double] = ["memory": memoryPercent, "load_per_cpu": loadPerCPU]
        if let cpuPercent { values["cpu"] = cpuPercent }
        if let swapPercent { values["swap"] = swapPercent }
        for (mount, percent) in diskPercent { values["disk:" + mount] = percent }
        return values
    }
}

/// Reads ``MetricSample``s. The parsers take the files' text, so tests feed them fixtures.
public struct MetricSampler: Sendable {
    private var previousCPU: (busy: UInt64, total: UInt64)?
    let procRoot: String

    /// File system types worth watching; pseudo file systems (proc, tmpfs, overlay's lower layers…) are not.
    static let watchedTypes: Set<String> = ["ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "vfat", "exfat", "reiserfs", "jfs", "bcachefs"]

    public init(procRoot: String = "/proc") {
        self.procRoot = procRoot
    }

    public mutating func sample() -> MetricSample? {
        guard let meminfo = try? String(contentsOfFile: procRoot + "/meminfo", encoding: .utf8),
              let stat = try? String(contentsOfFile: procRoot + "/stat", encoding: .utf8),
              let loadavg = try? String(contentsOfFile: procRoot + "/loadavg", encoding: .utf8),
              let memory = Self.memory(meminfo), let cpu = Self.cpuTimes(stat), let load = Self.load(loadavg) else { return nil }
        var cpuPercent: Double?
        if let previous = previousCPU, cpu.total > previous.total {
            cpuPercent = 100 * Double(cpu.busy &- previous.busy) / Double(cpu.total - previous.total)
        }
        previousCPU = cpu
        let mounts = (try? String(contentsOfFile: procRoot + "/self/mounts", encoding: .utf8)).map(Self.mountPoints) ?? []
        var disks: [String: Double] = [:]
        for mount in mounts {
            var info = statvfs()
            guard statvfs(mount, &info) == 0, info.f_blocks > 0 else { continue }
            let used = Double(info.f_blocks - info.f_bfree)
            // As df: used / (used + available to unprivileged users).
            disks[mount] = 100 * used / (used + Double(info.f_bavail))
        }
        return MetricSample(cpuPercent: cpuPercent, memoryPercent: memory.memory, swapPercent: memory.swap,
                            loadPerCPU: load / Double(max(1, ProcessInfo.processInfo.activeProcessorCount)), diskPercent: disks)
    }

    /// Memory in use (total − available) and swap in use, in percent.
    static func memory(_ meminfo: String) -> (memory: Double, swap: Double?)? {
        var values: [Substring: Double] = [:]
        for line in meminfo.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let value = Double(parts[1]) else { continue }
            values[parts[0].dropLast()] = value
        }
        guard let total = values["MemTotal"], total > 0, let available = values["MemAvailable"] else { return nil }
        let swap = values["SwapTotal"].flatMap { swapTotal in
            swapTotal > 0 ? 100 * (swapTotal - (values["SwapFree"] ?? swapTotal)) / swapTotal : nil
        }
        return (100 * (total - available) / total, swap)
    }

    /// Busy and total jiffies from the aggregate `cpu` line (idle and iowait are not busy).
    static func cpuTimes(_ stat: String) -> (busy: UInt64, total: UInt64)? {
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 5 else { return nil }
        let total = fields.prefix(8).reduce(0, +)
        return (total - fields[3] - fields[4], total)
    }

    static func load(_ loadavg: String) -> Double? {
        loadavg.split(separator: " ").first.flatMap { Double($0) }
    }

    /// Mount points of real file systems, each once, with the octal escapes of /proc/self/mounts undone.
    static func mountPoints(_ mounts: String) -> [String] {
        var seen: Set<String> = []
        var points: [String] = []
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, watchedTypes.contains(String(fields[2])) else { continue }
            let point = String(fields[1]).replacingOccurrences(of: "\\040", with: " ").replacingOccurrences(of: "\\011", with: "\t")
            if seen.insert(point).inserted { points.append(point) }
        }
        return points
    }
}

/// Thresholds with debounce: a metric must be over its threshold for `samples` readings in a row to raise an
/// event, and back under it before it can raise another — a spike is not an incident, and a lasting one is
/// reported once.
public struct MetricTriggers: Sendable {
    public struct Thresholds: Sendable, Equatable {
        public var cpuPercent: Double
        public var memoryPercent: Double
        public var swapPercent: Double
        public var diskPercent: Double
        public var loadPerCPU: Double
        public var samples: Int

        public init(cpuPercent: Double = 95, memoryPercent: Double = 90, swapPercent: Double = 50, diskPercent: Double = 90,
                    loadPerCPU: Double = 2, samples: Int = 3) {
            self.cpuPercent = cpuPercent
            self.memoryPercent = memoryPercent
            self.swapPercent = swapPercent
            self.diskPercent = diskPercent
            self.loadPerCPU = loadPerCPU
            self.samples = samples
        }
    }

    public let thresholds: Thresholds
    private var over: [String: Int] = [:]
    private var raised: Set<String> = []

    public init(thresholds: Thresholds) {
        self.thresholds = thresholds
    }

    /// The events this sample raises.
    public mutating func observe(_ sample: MetricSample) -> [TriggerEvent] {
        var readings: [(name: String, value: Double?, limit: Double, category: Category, unit: String)] = [
            ("cpu", sample.cpuPercent, thresholds.cpuPercent, .resource, "%"),
            ("memory", sample.memoryPercent, thresholds.memoryPercent, .resource, "%"),
            ("swap", sample.swapPercent, thresholds.swapPercent, .resource, "%"),
            ("load per CPU", sample.loadPerCPU, thresholds.loadPerCPU, .resource, ""),
        ]
        for (mount, percent) in sample.diskPercent.sorted(by: { $0.key < $1.key }) {
            readings.append(("disk \(mount)", percent, thresholds.diskPercent, .disk, "%"))
        }
        var events: [TriggerEvent] = []
        for reading in readings {
            guard let value = reading.value else { continue }
            if value >= reading.limit {
                over[reading.name, default: 0] += 1
                if over[reading.name]! >= thresholds.samples, raised.insert(reading.name).inserted {
                    let text = "\(reading.name) at \(Self.format(value))\(reading.unit) for \(thresholds.samples) samples (threshold \(Self.format(reading.limit))\(reading.unit))"
                    events.append(TriggerEvent(record: LogRecord(message: text, identifier: "ai-sysadmin-metrics"), templateID: 0,
                                               severity: .warning, category: reading.category, escalate: true,
                                               summary: "\(reading.name) over its threshold", source: .metric))
                }
            } else {
                over[reading.name] = 0
                raised.remove(reading.name)
            }
        }
        return events
    }

    private var failed: Set<String> = []

    /// An event for each unit that entered the failed state since the last call; a unit that recovers and
    /// fails again raises another.
    public mutating func observeFailedUnits(_ units: [String]) -> [TriggerEvent] {
        let now = Set(units)
        defer { failed = now }
        return now.subtracting(failed).sorted().map { unit in
            TriggerEvent(record: LogRecord(message: "\(unit) entered the failed state", unit: unit, identifier: "ai-sysadmin-metrics"),
                         templateID: 0, severity: .error, category: .service, escalate: true, summary: "a systemd unit failed", source: .metric)
        }
    }

    private static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }
}
