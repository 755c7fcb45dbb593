import Foundation
import Logging
import ServiceLifecycle
import SysadminConfiguration
import UpstreamClient

/// Something an operator should hear about without watching the journal.
public struct Notification: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case criticalTrigger = "critical_trigger"
        case approvalQueued = "approval_queued"
        case actionExecuted = "action_executed"
        case actionFailed = "action_failed"
    }

    public var kind: Kind
    public var title: String
    public var message: String
    public var proposalID: Int64?
    public var host: String
    public var time: Date

    public init(kind: Kind, title: String, message: String, proposalID: Int64? = nil,
                host: String = ProcessInfo.processInfo.hostName, time: Date = Date()) {
        self.kind = kind
        self.title = title
        self.message = message
        self.proposalID = proposalID
        self.host = host
        self.time = time
    }

    enum CodingKeys: String, CodingKey {
        case kind, title, message, host, time
        case proposalID = "proposal_id"
    }
}

/// Delivers notifications to Gotify and/or a JSON webhook, in the background.
///
/// `notify` never waits: it hands the notification to a bounded queue. Each destination is served in order by
/// its own task; a failed delivery is logged and retried with exponential backoff, up to the configured number
/// of attempts, while the pipeline that raised it goes on. When a destination is down for long and the queue
/// fills, the oldest waiting notifications are given up — and each one given up is logged.
public final class Notifier: Service, Sendable {
    public static let queueLimit = 1000

    private let configuration: NotificationConfiguration
    private let client: UpstreamHTTPClient
    private let logger: Logger
    private let destinations: [Destination]
    private let continuations: [AsyncStream<Notification>.Continuation]
    private let streams: [AsyncStream<Notification>]

    public init(configuration: NotificationConfiguration, client: UpstreamHTTPClient = .shared, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
        var destinations: [Destination] = []
        if let gotify = configuration.gotify { destinations.append(.gotify(gotify)) }
        if let webhook = configuration.webhook { destinations.append(.webhook(webhook)) }
        self.destinations = destinations
        let pairs = destinations.map { destination in
            AsyncStream.makeStream(of: Notification.self, bufferingPolicy: .bufferingNewest(Self.queueLimit))
        }
        streams = pairs.map(\.stream)
        continuations = pairs.map(\.continuation)
    }

    public var isEnabled: Bool { !destinations.isEmpty }

    public func notify(_ notification: Notification) {
        for (index, continuation) in continuations.enumerated() {
            if case .dropped(let oldest) = continuation.yield(notification) {
                logger.warning("notification queue full: gave up an undelivered notification", metadata: [
                    "destination": "\(destinations[index].name)", "title": "\(oldest.title)"])
            }
        }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for (destination, stream) in zip(destinations, streams) {
                group.addTask { await self.serve(destination, stream) }
            }
            group.addTask {
                try? await gracefulShutdown()
                self.continuations.forEach { $0.finish() }
            }
        }
    }

    private func serve(_ destination: Destination, _ stream: AsyncStream<Notification>) async {
        for await notification in stream {
            var delay = configuration.initialRetrySeconds
            for attempt in 1...configuration.maximumAttempts {
                do {
                    try await deliver(notification, to: destination)
                    break
                } catch {
                    let last = attempt == configuration.maximumAttempts
                    logger.warning(last ? "notification not delivered; giving up" : "notification not delivered; will retry", metadata: [
                        "destination": "\(destination.name)", "attempt": "\(attempt)", "error": "\(error)",
                        "retryInSeconds": "\(last ? 0 : delay)"])
                    if last { break }
                    // Shutdown cuts the wait short; the attempt after it is the last chance.
                    try? await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, configuration.maximumRetrySeconds)
                }
            }
        }
    }

    func deliver(_ notification: Notification, to destination: Destination) async throws {
        let request: HTTPRequest
        let timeouts = HTTPTimeouts(connect: .seconds(5), total: .seconds(15), idle: nil)
        switch destination {
        case .gotify(let gotify):
            let token: String
            do {
                token = try String(contentsOfFile: gotify.tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw DeliveryError(message: "cannot read the Gotify token file \(gotify.tokenFile): \((error as NSError).localizedDescription)")
            }
            let body: [String: JSONValue] = [
                "title": .string(notification.title), "message": .string(notification.message), "priority": .number(Double(gotify.priority)),
            ]
            let base = gotify.url.hasSuffix("/") ? String(gotify.url.dropLast()) : gotify.url
            request = HTTPRequest(method: .post, url: base + "/message",
                                  headers: [("Content-Type", "application/json"), ("X-Gotify-Key", token)],
                                  body: try JSONEncoder().encode(body), timeouts: timeouts)
        case .webhook(let webhook):
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            request = HTTPRequest(method: .post, url: webhook.url, headers: [("Content-Type", "application/json")],
                                  body: try encoder.encode(notification), timeouts: timeouts)
        }
        let response = try await client.execute(request, maximumBodyBytes: 64 * 1024)
        guard (200..<300).contains(response.status) else {
            throw DeliveryError(message: "HTTP \(response.status) from \(destination.name)")
        }
    }

    enum Destination: Sendable {
        case gotify(NotificationConfiguration.Gotify)
        case webhook(NotificationConfiguration.Webhook)

        var name: String {
            switch self {
            case .gotify(let gotify): "gotify \(gotify.url)"
            case .webhook(let webhook): "webhook \(webhook.url)"
            }
        }
    }

    struct DeliveryError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
