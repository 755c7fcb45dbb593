import FoundationEssentials
import SysadminConfiguration

/// Why a request wants a model server's slot. When requests compete, interactive chat goes first, then work an
/// escalation asked for, then periodic work.
public enum RequestPriority: Int, Sendable, Comparable, CaseIterable {
    case periodic = 0
    case escalation = 1
    case interactive = 2

    public static func < (a: RequestPriority, b: RequestPriority) -> Bool { a.rawValue < b.rawValue }
}

/// The daemon's share of one model server's slots (`--parallel`): at most `capacity` requests at a time; the next
/// free slot goes to the highest priority waiting, first come first served within a priority.
public actor ModelSlots {
    public let capacity: Int
    private var inUse = 0
    private var sequence = 0
    private var waiting: [(priority: RequestPriority, sequence: Int, continuation: CheckedContinuation<Void, Never>)] = []

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Runs `body` holding a slot.
    public func withSlot<T: Sendable>(_ priority: RequestPriority, _ body: @Sendable () async throws -> T) async rethrows -> T {
        await acquire(priority)
        defer { release() }
        return try await body()
    }

    public func acquire(_ priority: RequestPriority) async {
        if inUse < capacity, waiting.isEmpty {
            inUse += 1
            return
        }
        sequence += 1
        let number = sequence
        await withCheckedContinuation { continuation in
            waiting.append((priority, number, continuation))
        }
    }

    public func release() {
        guard let next = waiting.indices.max(by: { (waiting[$0].priority, -waiting[$0].sequence) < (waiting[$1].priority, -waiting[$1].sequence) }) else {
            inUse -= 1
            return
        }
        // The slot passes straight to the next holder.
        waiting.remove(at: next).continuation.resume()
    }

    /// Requests waiting for a slot.
    public var queued: Int { waiting.count }
}

/// One ``ModelSlots`` per layer, sized by the layer's `parallel` setting.
public struct ModelSlotTable: Sendable {
    let slots: [ModelLayer: ModelSlots]

    public init(configuration: DaemonConfiguration) {
        slots = Dictionary(uniqueKeysWithValues: ModelLayer.allCases.map { ($0, ModelSlots(capacity: configuration.models[$0].parallel)) })
    }

    public subscript(layer: ModelLayer) -> ModelSlots { slots[layer]! }
}
