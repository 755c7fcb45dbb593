import FoundationEssentials
import Prometheus
import Synchronization
import UpstreamClient

/// The gateway's metrics, served as Prometheus text on `/metrics`. Names are snake_case with `_total` and
/// `_seconds`, labels bounded (routes and statuses are few; nothing from a request body becomes a label).
final class GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let inFlight: Gauge
    private let queueDepth: Gauge
    private let promptTokens: Counter
    private let completionTokens: Counter
    private let upstreamConnections: Counter
    // Looked up for every request: made once per route here (routes are a fixed list) and per route and
    // status on first use, rather than asking the registry, which hashes the label arrays each time.
    private let timeToFirstByte: [String: DurationHistogram]
    private let durations: [String: DurationHistogram]
    private let requests = Mutex<[RouteStatus: Counter]>([:])

    private struct RouteStatus: Hashable {
        let route: String
        let status: Int
    }

    private static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        .seconds(120), .seconds(300),
    ]

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ai", subsystem: "gateway", metricName: metric, unitName: unit, helpText: help)
    }

    private static var requestsName: MetricNameDescriptor { name("requests", "total", "Requests by route and status") }
    private static var upstreamErrorsName: MetricNameDescriptor { name("upstream_errors", "total", "Failures talking to the meta model") }

    /// `routes`: every value the `route` label can take.
    init(routes: Set<String>) {
        inFlight = registry.makeGauge(descriptor: Self.name("upstream_requests_in_flight", "", "Requests holding a meta model slot"))
        queueDepth = registry.makeGauge(descriptor: Self.name("queue_depth", "", "Requests waiting for a meta model slot"))
        promptTokens = registry.makeCounter(descriptor: Self.name("prompt_tokens", "total", "Prompt tokens reported by the upstream"))
        completionTokens = registry.makeCounter(descriptor: Self.name("completion_tokens", "total", "Completion tokens reported by the upstream"))
        upstreamConnections = registry.makeCounter(descriptor: Self.name("upstream_connections_opened", "total",
                                                                         "Connections opened to the meta model (kept alive and reused)"))
        let registry = registry
        func histograms(_ descriptor: MetricNameDescriptor) -> [String: DurationHistogram] {
            Dictionary(uniqueKeysWithValues: routes.map { route in
                (route, registry.makeDurationHistogram(descriptor: descriptor, labels: [("route", route)], buckets: Self.latencyBuckets))
            })
        }
        timeToFirstByte = histograms(Self.name("time_to_first_byte", "seconds", "Request to response head"))
        durations = histograms(Self.name("request_duration", "seconds", "Request to last byte"))
    }

    func requestFinished(route: String, status: Int) {
        let key = RouteStatus(route: route, status: status)
        let counter = requests.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(descriptor: Self.requestsName, labels: [("route", route), ("status", String(status))])
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    func timeToFirstByte(route: String, _ duration: Duration) {
        timeToFirstByte[route]?.record(duration)
    }

    func duration(route: String, _ duration: Duration) {
        durations[route]?.record(duration)
    }

    func upstreamError(_ code: UpstreamError.Code) {
        registry.makeCounter(descriptor: Self.upstreamErrorsName, labels: [("code", code.description.replacing(" ", with: "_"))])
            .increment()
    }

    /// Counts reported usage (a response's, or a stream event's) and returns it.
    @discardableResult
    func count(_ usage: Usage?) -> Usage? {
        guard let usage else { return nil }
        promptTokens.increment(by: Int64(usage.promptTokens))
        completionTokens.increment(by: Int64(usage.completionTokens))
        return usage
    }

    func upstreamConnectionOpened() {
        upstreamConnections.increment()
    }

    /// The text exposition, with the queue gauges read at scrape time.
    func exposition(load: (inFlight: Int, waiting: Int)) -> [UInt8] {
        inFlight.set(Double(load.inFlight))
        queueDepth.set(Double(load.waiting))
        return registry.emitToBuffer()
    }
}
