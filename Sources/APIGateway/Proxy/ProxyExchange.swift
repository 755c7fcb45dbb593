import FoundationEssentials
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOPosix
import OpenAIServer
import SysadminConfiguration
import UpstreamClient

/// One checked `/v1` request forwarded to the meta model and its answer relayed, all on the client
/// connection's event loop: it performs what ``ProxyExchangeStateMachine`` decides — take a slot, get a pooled
/// upstream connection, send, write the answer — and feeds back what happened. A client that leaves closes the
/// upstream connection at once (llama-server then stops generating).
final class ProxyExchange {
    private var machine: ProxyExchangeStateMachine
    private let request: ProxyRequest
    private let check: RequestCheck
    private let services: ProxyServices
    private let pool: UpstreamConnectionPool
    private let handler: GatewayProxyHandler
    private let eventLoop: any EventLoop
    private var lease: SlotLease?
    private var slotWait: Task<Void, Never>?
    private var connection: UpstreamConnection?
    private var totalDeadline: Scheduled<Void>?
    private var idleCheck: Scheduled<Void>?
    private var lastUpstreamByte = NIODeadline.now()
    /// Whether the client takes what is written; while it does not, the upstream is not read.
    private var clientReading: Bool
    private var clientStalledSince: NIODeadline?

    init(request: ProxyRequest, check: RequestCheck, services: ProxyServices, pool: UpstreamConnectionPool,
         handler: GatewayProxyHandler, channel: any Channel) {
        machine = ProxyExchangeStateMachine(streaming: check.streaming, modelJSON: services.modelJSON(for: check.model),
                                            idleTimeout: services.upstreamIdleTimeout)
        self.request = request
        self.check = check
        self.services = services
        self.pool = pool
        self.handler = handler
        eventLoop = channel.eventLoop
        clientReading = channel.isWritable
        if !clientReading { clientStalledSince = .now() }
    }

    func start() {
        if let lease = services.immediateSlot() {
            self.lease = lease
            perform(machine.event(.slotGranted))
            return
        }
        // Waiting in the queue, learning the slot count, or taking a turn on the daemon's slots: the async path,
        // back on this loop with the outcome.
        let exchange = NIOLoopBound(self, eventLoop: eventLoop)
        let services = self.services, eventLoop = self.eventLoop
        let background = Gateway.isBackgroundTask(check.body), requestID = request.assignID()
        slotWait = Task {
            let outcome: Result<SlotLease, OpenAIError>
            do {
                outcome = .success(try await services.waitForSlot(background: background, requestID: requestID))
            } catch let error as OpenAIError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(OpenAIError(.serviceUnavailable, "no slot of the meta model: \(error)", type: "server_error",
                                               code: "queue_timeout"))
            }
            eventLoop.execute { exchange.value.slotWaitEnded(outcome) }
        }
    }

    private func slotWaitEnded(_ outcome: Result<SlotLease, OpenAIError>) {
        slotWait = nil
        switch outcome {
        case .success(let lease):
            self.lease = lease
            perform(machine.event(.slotGranted))
        case .failure(let refusal):
            perform(machine.event(.slotRefused(refusal)))
        }
    }

    /// Does what the state machine decided.
    private func perform(_ action: ProxyExchangeStateMachine.Action) {
        switch action {
        case .none:
            break
        case .connect(let fresh):
            // A retry: the first connection goes, the total deadline stays (it counts from the first attempt).
            connection?.close()
            connection = nil
            idleCheck?.cancel()
            idleCheck = nil
            pool.connection(fresh: fresh, connectTimeout: ProxyServices.connectTimeout, counter: services.pools.counter) { result in
                switch result {
                case .success(let connection):
                    self.connection = connection
                    self.perform(self.machine.event(.connected(reused: connection.earlierExchanges > 0)))
                case .failure(let error):
                    self.perform(self.machine.event(.connectFailed(ProxyServices.connectFailure(error))))
                }
            }
        case .send:
            send()
        case .writeStreamHead:
            handler.writeHead(request, status: .ok, headers: Gateway.streamHeaders, contentLength: nil)
        case .writeEvents(let bytes, let usage):
            request.facts.add(services.metrics.count(usage))
            if !bytes.isEmpty { handler.writeBody(ByteBuffer(bytes: bytes), flush: true) }
        case .endStream(let fault, let counted, let reusable):
            if let counted { services.metrics.upstreamError(counted) }
            if let fault {
                request.facts.error = fault
                handler.writeBody(ByteBuffer(bytes: Gateway.streamErrorEvent(fault)), flush: false)
            }
            finish(reusable: reusable)
            handler.finish(request)
        case .respond(let contentType, let body, let usage):
            request.facts.add(services.metrics.count(usage))
            finish(reusable: true)
            let bytes = ByteBuffer(bytes: body)
            handler.writeHead(request, status: .ok, headers: [.contentType: contentType], contentLength: bytes.readableBytes)
            handler.writeBody(bytes, flush: false)
            handler.finish(request)
        case .fail(let error, let counted):
            if let counted { services.metrics.upstreamError(counted) }
            finish(reusable: false)
            handler.respond(request, with: error)
        case .abandon:
            slotWait?.cancel()
            finish(reusable: false)
            request.log(status: 499, error: "the client closed the connection")
        case .dropClient:
            finish(reusable: false)
            request.facts.error = "the client took nothing for \(services.upstreamIdleTimeout.nanoseconds / 1_000_000_000) s"
            handler.dropClient(request)
        case .checkIdleAgain(let delay):
            scheduleIdleCheck(in: delay)
        case .releaseLateSlot:
            lease?.release()
            lease = nil
        case .closeLateConnection:
            connection?.close()
            connection = nil
        }
    }

    private func send() {
        guard let connection else { return }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: services.pools.address.pathPrefix + request.route.rawValue)
        head.headers.add(name: "Host", value: services.pools.address.authority)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(check.body.count))
        if let key = services.endpoint.currentKey { head.headers.add(name: "Authorization", value: "Bearer \(key)") }
        lastUpstreamByte = .now()
        armTimers()
        connection.send(head, body: connection.channel.allocator.buffer(bytes: check.body)) { [weak self] event in
            self?.received(event)
        }
        if !clientReading { connection.setReading(false) }
    }

    private func received(_ event: UpstreamConnection.Event) {
        switch event {
        case .part(let part):
            lastUpstreamByte = .now()
            switch part {
            case .head(let head):
                perform(machine.event(.responseHead(status: Int(head.status.code), contentType: head.headers.first(name: "Content-Type"))))
                if !head.isKeepAlive { connection?.closeAfterExchange() }
            case .body(let bytes):
                perform(machine.event(.responseBody(bytes)))
            case .end:
                perform(machine.event(.responseEnd))
            }
        case .closed(let error):
            perform(machine.event(.upstreamClosed(why: error.map { "\($0)" } ?? "the connection closed")))
        }
    }

    func clientLeft() {
        perform(machine.event(.clientLeft))
    }

    func clientWritable(_ writable: Bool) {
        clientReading = writable
        if writable {
            lastUpstreamByte = .now()
            clientStalledSince = nil
        } else if clientStalledSince == nil {
            clientStalledSince = .now()
        }
        connection?.setReading(writable)
    }

    /// Ends the exchange's hold on things (the machine says it happens once): timers off, the connection back to
    /// the pool or closed, the slot given back.
    private func finish(reusable: Bool) {
        cancelTimers()
        if let connection {
            if reusable {
                if !clientReading { connection.setReading(true) }
                pool.giveBack(connection)
            } else {
                connection.close()
            }
            self.connection = nil
        }
        lease?.release()
        lease = nil
        services.metrics.duration(route: request.route.rawValue, ContinuousClock.now - request.started)
    }

    // MARK: Timeouts

    private func armTimers() {
        if !check.streaming, totalDeadline == nil {
            totalDeadline = eventLoop.assumeIsolated().scheduleTask(in: services.upstreamTotalTimeout) { [weak self] in
                guard let self else { return }
                self.perform(self.machine.event(.totalTimeout))
            }
        }
        if idleCheck == nil { scheduleIdleCheck(in: services.upstreamIdleTimeout) }
    }

    private func scheduleIdleCheck(in delay: TimeAmount) {
        idleCheck = eventLoop.assumeIsolated().scheduleTask(in: max(delay, .milliseconds(10))) { [weak self] in
            guard let self else { return }
            self.idleCheck = nil
            let now = NIODeadline.now()
            let stalled = self.clientStalledSince.map { now - $0 } ?? .zero
            self.perform(self.machine.event(.idleCheck(silence: now - self.lastUpstreamByte, clientStalled: stalled)))
        }
    }

    private func cancelTimers() {
        totalDeadline?.cancel()
        totalDeadline = nil
        idleCheck?.cancel()
        idleCheck = nil
    }
}
