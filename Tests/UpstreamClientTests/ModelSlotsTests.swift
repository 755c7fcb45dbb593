import Synchronization
import TestSupport
import Testing
import UpstreamClient

@Suite struct ModelSlotsTests {
    /// The order in which holders got their slot.
    final class Order: Sendable {
        private let names = Mutex<[String]>([])
        func append(_ name: String) { names.withLock { $0.append(name) } }
        var all: [String] { names.withLock { $0 } }
    }

    /// With the one slot taken, requests queue; each release hands the slot to the highest priority waiting,
    /// in arrival order within a priority.
    @Test func aFreedSlotGoesToChatThenEscalationsThenPeriodicWork() async throws {
        let slots = ModelSlots(capacity: 1)
        await slots.acquire(.periodic)
        let order = Order()
        var tasks: [Task<Void, Never>] = []
        for (name, priority) in [("periodic-1", RequestPriority.periodic), ("escalation-1", .escalation), ("periodic-2", .periodic),
                                 ("chat", .interactive), ("escalation-2", .escalation)] {
            tasks.append(Task {
                await slots.withSlot(priority) { order.append(name) }
            })
            // Arrival order matters within a priority: wait until this one queues before the next arrives.
            let queued = tasks.count
            #expect(await eventually(timeout: .seconds(5)) { await slots.queued == queued })
        }
        await slots.release()
        for task in tasks { await task.value }
        #expect(order.all == ["chat", "escalation-1", "escalation-2", "periodic-1", "periodic-2"])
        #expect(await slots.queued == 0)
    }

    @Test func upToCapacityRunsAtOnce() async {
        let slots = ModelSlots(capacity: 2)
        await slots.acquire(.periodic)
        await slots.acquire(.periodic)
        #expect(await slots.queued == 0, "two slots, two holders, nobody waits")
        await slots.release()
        await slots.release()
    }
}
