import Foundation
import Logging
import OpenAIServer

/// One producer of console snapshots for every open page: while anyone watches, it looks for a change each
/// `interval` (a few cheap reads, ``ConsoleSnapshotSource/changeProbe(at:)``), builds and encodes a snapshot only
/// when something changed or `refresh` has passed, and hands the same `state` event to every subscriber. Nobody
/// watching, nothing runs. The number of subscribers is bounded: any key may open the page.
public actor ConsoleFeed {
    let source: ConsoleSnapshotSource
    let interval: Duration
    let refresh: Duration
    let maximumSubscribers: Int
    let logger: Logger
    private var subscribers: [UUID: AsyncStream<[UInt8]>.Continuation] = [:]
    /// The last `state` event, for a page that arrives between two.
    private var latest: [UInt8]?
    private var producer: Task<Void, Never>?

    public init(source: ConsoleSnapshotSource, logger: Logger, interval: Duration = .seconds(1), refresh: Duration = .seconds(30),
                maximumSubscribers: Int = 16) {
        self.source = source
        self.logger = logger
        self.interval = interval
        self.refresh = refresh
        self.maximumSubscribers = maximumSubscribers
    }

    /// Server-sent events (`state`, or `problem` when the store cannot be read), starting with the latest snapshot;
    /// nil when ``maximumSubscribers`` pages are open already.
    public func subscribe() -> AsyncStream<[UInt8]>? {
        guard subscribers.count < maximumSubscribers else { return nil }
        let (events, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(2))
        let id = UUID()
        subscribers[id] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        if let latest { continuation.yield(latest) }
        if producer == nil { producer = Task { await produce() } }
        return events
    }

    private func unsubscribe(_ id: UUID) {
        subscribers[id] = nil
        guard subscribers.isEmpty else { return }
        producer?.cancel()
        producer = nil
        latest = nil
    }

    private func produce() async {
        var probe: Int?
        var sent = ContinuousClock.now
        while !Task.isCancelled {
            do {
                let current = try source.changeProbe()
                if current != probe || latest == nil || ContinuousClock.now - sent >= refresh {
                    let event = Self.event("state", try ConsoleSnapshot.encoder.encode(try await source.snapshot()))
                    (probe, sent, latest) = (current, ContinuousClock.now, event)
                    for subscriber in subscribers.values { subscriber.yield(event) }
                }
            } catch {
                logger.warning("console snapshot failed", metadata: ["ai.error": "\(error)"])
                let event = Self.event("problem", Data(JSONResponse.quoted("cannot read the store: \(error)").utf8))
                for subscriber in subscribers.values { subscriber.yield(event) }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One server-sent event; `data` is one line of JSON.
    static func event(_ name: String, _ data: Data) -> [UInt8] {
        Array("event: \(name)\ndata: ".utf8) + Array(data) + Array("\n\n".utf8)
    }
}
