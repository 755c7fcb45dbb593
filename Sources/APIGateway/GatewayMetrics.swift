import Foundation
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

    private static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        .seconds(120), .seconds(300),
    ]

    init() {
        inFlight = registry.makeGauge(name: "ai_gateway_upstream_requests_in_flight", help: "Requests holding a meta model slot")
        queueDepth = registry.makeGauge(name: "ai_gateway_queue_depth", help: "Requests waiting for a meta model slot")
        promptTokens = registry.makeCounter(name: "ai_gateway_prompt_tokens_total", help: "Prompt tokens reported by the upstream")
        completionTokens = registry.makeCounter(name: "ai_gateway_completion_tokens_total", help: "Completion tokens reported by the upstream")
    }

    func requestFinished(route: String, status: Int) {
        registry.makeCounter(name: "ai_gateway_requests_total", labels: [("route", route), ("status", String(status))],
                             help: "Requests by route and status").increment()
    }

    func timeToFirstByte(route: String, _ duration: Duration) {
        registry.makeDurationHistogram(name: "ai_gateway_time_to_first_byte_seconds", labels: [("route", route)],
                                       buckets: Self.latencyBuckets, help: "Request to response head").record(duration)
    }

    func duration(route: String, _ duration: Duration) {
        registry.makeDurationHistogram(name: "ai_gateway_request_duration_seconds", labels: [("route", route)],
                                       buckets: Self.latencyBuckets, help: "Request to last byte").record(duration)
    }

    func upstreamError(_ code: UpstreamError.Code) {
        registry.makeCounter(name: "ai_gateway_upstream_errors_total", labels: [("code", code.description.replacingOccurrences(of: " ", with: "_"))],
                             help: "Failures talking to the meta model").increment()
    }

    /// Counts reported usage (a response's, or a stream event's) and returns it.
    @discardableResult
    func count(_ usage: Usage?) -> Usage? {
        guard let usage else { return nil }
        promptTokens.increment(by: Int64(usage.promptTokens))
        completionTokens.increment(by: Int64(usage.completionTokens))
        return usage
    }

    /// The text exposition, with the queue gauges read at scrape time.
    func exposition(load: (inFlight: Int, waiting: Int)) -> [UInt8] {
        inFlight.set(Double(load.inFlight))
        queueDepth.set(Double(load.waiting))
        return registry.emitToBuffer()
    }
}
