import Testing
@testable import Monitoring

@Suite struct MetricTriggersTests {
    @Test func procFilesAreParsed() throws {
        let meminfo = "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    4000000 kB\nSwapTotal:  2000000 kB\nSwapFree:   1500000 kB\n"
        let memory = try #require(MetricSampler.memory(meminfo))
        #expect(memory.memory == 75 && memory.swap == 25)
        #expect(MetricSampler.memory("MemTotal: 100 kB\nMemAvailable: 50 kB\nSwapTotal: 0 kB\n")?.swap == nil)
        #expect(MetricSampler.memory("nonsense") == nil)

        let cpu = try #require(MetricSampler.cpuTimes("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4 5\n"))
        #expect(cpu.total == 1000 && cpu.busy == 200)
        #expect(MetricSampler.load("3.50 2.00 1.00 2/300 4242\n") == 3.5)

        let mounts = """
            /dev/sda1 / ext4 rw,relatime 0 0
            proc /proc proc rw 0 0
            tmpfs /run tmpfs rw 0 0
            /dev/sdb1 /mnt/my\\040disk xfs rw 0 0
            /dev/sda1 / ext4 rw,relatime 0 0
            """
        #expect(MetricSampler.mountPoints(mounts) == ["/", "/mnt/my disk"])
    }

    @Test func thisHostCanBeSampled() throws {
        var sampler = MetricSampler()
        let firstSample = sampler.sample()
        let first = try #require(firstSample)
        #expect(first.cpuPercent == nil && (0...100).contains(first.memoryPercent) && first.loadPerCPU >= 0)
        let secondSample = sampler.sample()
        let second = try #require(secondSample)
        #expect(second.cpuPercent.map { (0...100).contains($0) } ?? true)
    }

    private func sample(memory: Double, disk: Double = 10) -> MetricSample {
        MetricSample(cpuPercent: 5, memoryPercent: memory, swapPercent: nil, loadPerCPU: 0.1, diskPercent: ["/": disk])
    }

    @Test func aMetricMustStayOverItsThresholdAndIsReportedOncePerEpisode() {
        var triggers = MetricTriggers(thresholds: .init(memoryPercent: 90, samples: 3))
        #expect(triggers.observe(sample(memory: 95)).isEmpty)
        #expect(triggers.observe(sample(memory: 95)).isEmpty)
        let raised = triggers.observe(sample(memory: 96))
        #expect(raised.count == 1 && raised.first?.category == .resource && raised.first?.record.message.hasPrefix("memory at 96.0%") == true)
        #expect(triggers.observe(sample(memory: 97)).isEmpty, "a lasting episode is reported once")
        #expect(triggers.observe(sample(memory: 50)).isEmpty)
        // A spike after recovery starts counting again.
        #expect(triggers.observe(sample(memory: 99)).isEmpty)
        #expect(triggers.observe(sample(memory: 40)).isEmpty)
    }

    @Test func eachFileSystemIsItsOwnMetric() {
        var triggers = MetricTriggers(thresholds: .init(diskPercent: 80, samples: 1))
        let events = triggers.observe(MetricSample(cpuPercent: nil, memoryPercent: 10, swapPercent: nil, loadPerCPU: 0,
                                                   diskPercent: ["/": 85, "/home": 50, "/var": 99]))
        #expect(events.map(\.record.message).map { $0.prefix(9) } == ["disk / at", "disk /var"])
        #expect(events.allSatisfy { $0.category == .disk })
    }

    @Test func aUnitEnteringTheFailedStateRaisesOneEventUntilItRecovers() {
        var triggers = MetricTriggers(thresholds: .init())
        #expect(triggers.observeFailedUnits([]).isEmpty)
        let first = triggers.observeFailedUnits(["nginx.service"])
        #expect(first.map(\.record.unit) == ["nginx.service"] && first.allSatisfy { $0.escalate && $0.severity == .error })
        #expect(triggers.observeFailedUnits(["nginx.service"]).isEmpty, "still failed: no second event")
        #expect(triggers.observeFailedUnits([]).isEmpty)
        #expect(triggers.observeFailedUnits(["nginx.service", "app.service"]).map(\.record.unit) == ["app.service", "nginx.service"])
    }
}
