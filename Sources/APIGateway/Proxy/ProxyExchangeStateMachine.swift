import FoundationEssentials
import HTTPTypes
import NIOCore
import OpenAIServer
import UpstreamClient

/// The life of one proxied `/v1` request as a pure state machine: events in, one action out, no I/O.
///
/// ```
/// waitingForSlot ─slot→ connecting ─connected→ awaitingHead ─head 200, streamed→ streaming ─end→ finished
///                            ↑                      │        └─any other head→ collecting ─end→ finished
///                            └─ reused connection closed before its answer (once, fresh) ┘
/// ```
/// Every path to `finished` — an answer, a failure, a timeout, the client leaving — goes through exactly one
/// ending action, so ``ProxyExchange`` gives the slot back, closes or pools the connection and cancels its
/// timers exactly once; once finished, every later event is answered with at most a clean-up of what arrives
/// late (a slot, a connection).
struct ProxyExchangeStateMachine {
    enum State {
        case waitingForSlot
        case connecting(retried: Bool)
        /// The request is sent; `reusedConnection` when the connection carried exchanges before this one.
        case awaitingHead(retried: Bool, reusedConnection: Bool)
        case streaming(StreamRelay)
        case collecting(status: Int, contentType: String?, body: ByteBuffer)
        case finished
    }

    enum Event {
        case slotGranted
        /// No slot: the queue is full or the wait timed out (429, 503).
        case slotRefused(OpenAIError)
        case connected(reused: Bool)
        case connectFailed(UpstreamError)
        case responseHead(status: Int, contentType: String?)
        case responseBody(ByteBuffer)
        case responseEnd
        /// The upstream connection closed before the response ended; `why` is NIO's error, if it gave one.
        case upstreamClosed(why: String)
        /// The idle check fired: nothing came from the upstream for `silence`; `clientStalled` is how long the
        /// client has taken nothing (zero while it reads).
        case idleCheck(silence: TimeAmount, clientStalled: TimeAmount)
        case totalTimeout
        case clientLeft
    }

    enum Action {
        case none
        /// Get a connection; `fresh` skips the idle ones.
        case connect(fresh: Bool)
        case send
        /// The stream's response head, then its events as they come.
        case writeStreamHead
        case writeEvents([UInt8], Usage?)
        /// The stream ends, with a last error event when `fault` is set; the connection is reused only if `reusable`.
        case endStream(fault: String?, counted: UpstreamError.Code?, reusable: Bool)
        /// The whole answer, 200; the connection goes back to the pool.
        case respond(contentType: String, body: Data, usage: Usage?)
        /// The gateway's own error instead of an answer; the connection is closed.
        case fail(OpenAIError, counted: UpstreamError.Code?)
        /// The client is gone: stop waiting for a slot, close the connection, give the slot back.
        case abandon
        /// The client took nothing for the idle timeout: like ``abandon``, and its connection is closed too.
        case dropClient
        /// Check the upstream's silence again after this long.
        case checkIdleAgain(after: TimeAmount)
        /// A slot or a connection that arrived after the exchange ended: hand it straight back.
        case releaseLateSlot
        case closeLateConnection
    }

    private(set) var state = State.waitingForSlot
    let streaming: Bool
    /// The model id the client asked for, as the JSON string every answer names.
    let modelJSON: Data
    let idleTimeout: TimeAmount

    /// A non-streamed answer larger than this is the upstream misbehaving, not something to hold in memory.
    static let maximumResponseBytes = 64 * 1024 * 1024

    init(streaming: Bool, modelJSON: Data, idleTimeout: TimeAmount) {
        self.streaming = streaming
        self.modelJSON = modelJSON
        self.idleTimeout = idleTimeout
    }

    var isFinished: Bool {
        if case .finished = state { true } else { false }
    }

    /// Whether the client already has the response head (so a failure can only be said as a last event).
    var headWritten: Bool {
        if case .streaming = state { true } else { false }
    }

    mutating func event(_ event: Event) -> Action {
        switch event {
        case .slotGranted:
            guard case .waitingForSlot = state else { return .releaseLateSlot }
            state = .connecting(retried: false)
            return .connect(fresh: false)
        case .slotRefused(let refusal):
            guard case .waitingForSlot = state else { return .none }
            return fail(refusal, counted: nil)
        case .connected(let reused):
            guard case .connecting(let retried) = state else { return .closeLateConnection }
            state = .awaitingHead(retried: retried, reusedConnection: reused)
            return .send
        case .connectFailed(let error):
            guard case .connecting = state else { return .none }
            return fail(Gateway.map(error), counted: error.code)
        case .responseHead(let status, let contentType):
            guard case .awaitingHead = state else { return .none }
            if streaming, status == 200 {
                state = .streaming(StreamRelay(modelJSON: modelJSON))
                return .writeStreamHead
            }
            state = .collecting(status: status, contentType: contentType, body: ByteBuffer())
            return .none
        case .responseBody(var bytes):
            return received(&bytes)
        case .responseEnd:
            return ended()
        case .upstreamClosed(let why):
            return upstreamClosed(why)
        case .idleCheck(let silence, let clientStalled):
            return idleCheck(silence: silence, clientStalled: clientStalled)
        case .totalTimeout:
            switch state {
            case .connecting, .awaitingHead, .collecting:
                return upstreamFailed(UpstreamError(.totalTimeout, "no complete answer within the total timeout"))
            case .waitingForSlot, .streaming, .finished:
                return .none
            }
        case .clientLeft:
            if case .finished = state { return .none }
            state = .finished
            return .abandon
        }
    }

    private mutating func received(_ bytes: inout ByteBuffer) -> Action {
        switch state {
        case .streaming(var relay):
            state = .finished // not kept while the relay changes, so its buffers are not copied
            do {
                let output = try relay.relay(bytes.readableBytesView)
                state = .streaming(relay)
                return .writeEvents(output.bytes, output.usage)
            } catch {
                return .endStream(fault: error.message, counted: .malformedStream, reusable: false)
            }
        case .collecting(let status, let contentType, var body):
            guard body.readableBytes + bytes.readableBytes <= Self.maximumResponseBytes else {
                return upstreamFailed(UpstreamError(.invalidResponse, "the answer is larger than \(Self.maximumResponseBytes) bytes"))
            }
            state = .finished
            body.writeBuffer(&bytes)
            state = .collecting(status: status, contentType: contentType, body: body)
            return .none
        case .waitingForSlot, .connecting, .awaitingHead, .finished:
            return .none
        }
    }

    private mutating func ended() -> Action {
        switch state {
        case .streaming(var relay):
            state = .finished
            if let fault = relay.finish() {
                return .endStream(fault: fault.message, counted: .malformedStream, reusable: false)
            }
            return .endStream(fault: nil, counted: nil, reusable: true)
        case .collecting(let status, let contentType, let body):
            return answer(status: status, contentType: contentType, body: Data(body.readableBytesView))
        case .waitingForSlot, .connecting, .awaitingHead, .finished:
            return .none
        }
    }

    /// A complete non-streamed answer: passed on as sent if it is what an OpenAI client can parse, naming the
    /// model the client asked for; anything else becomes the gateway's own error.
    private mutating func answer(status: Int, contentType: String?, body: Data) -> Action {
        if status == 503 {
            // llama-server's "Loading model": say it the way clients retry on, with Retry-After.
            return fail(.upstreamUnavailable("the model is loading"), counted: streaming ? .httpStatus : nil)
        }
        guard status == 200 else {
            return fail(Gateway.upstreamRefusal(status: status, body: body), counted: streaming ? .httpStatus : nil)
        }
        guard let document = try? UpstreamDocument(body) else {
            return fail(OpenAIError(.badGateway, "the meta model answered 200 with a body that is not a JSON object (\(body.count) bytes)",
                                    type: "server_error", code: "upstream_error"), counted: .invalidResponse)
        }
        state = .finished
        return .respond(contentType: contentType ?? "application/json", body: document.renamingModel(in: body, to: modelJSON),
                        usage: document.usage)
    }

    private mutating func upstreamClosed(_ why: String) -> Action {
        switch state {
        case .awaitingHead(retried: false, reusedConnection: true):
            // A kept-alive connection the server closed as it went idle, before it answered: once more, on a new one.
            state = .connecting(retried: true)
            return .connect(fresh: true)
        case .awaitingHead, .collecting:
            return upstreamFailed(UpstreamError(.transport, "the meta model's server closed the connection before its answer was complete (\(why))"))
        case .streaming:
            state = .finished
            return .endStream(fault: "the meta model's stream broke off: \(why)", counted: .transport, reusable: false)
        case .waitingForSlot, .connecting, .finished:
            return .none
        }
    }

    private mutating func idleCheck(silence: TimeAmount, clientStalled: TimeAmount) -> Action {
        switch state {
        case .awaitingHead, .collecting, .streaming:
            // A client that reads slowly stops the upstream being read: its silence is the client's, not the model's.
            // One that takes nothing for as long as a model may be silent is gone in all but name (nginx's
            // send_timeout): it must not hold a slot of the model.
            if clientStalled > .zero {
                guard clientStalled >= idleTimeout else { return .checkIdleAgain(after: idleTimeout - clientStalled) }
                state = .finished
                return .dropClient
            }
            guard silence >= idleTimeout else { return .checkIdleAgain(after: idleTimeout - silence) }
            if case .streaming = state {
                state = .finished
                return .endStream(fault: "the meta model's stream broke off: nothing arrived within the idle timeout",
                                  counted: .idleTimeout, reusable: false)
            }
            return upstreamFailed(UpstreamError(.idleTimeout, "nothing arrived within the idle timeout"))
        case .waitingForSlot, .connecting:
            return .checkIdleAgain(after: idleTimeout)
        case .finished:
            return .none
        }
    }

    private mutating func upstreamFailed(_ error: UpstreamError) -> Action {
        fail(Gateway.map(error), counted: error.code)
    }

    private mutating func fail(_ error: OpenAIError, counted: UpstreamError.Code?) -> Action {
        if case .streaming = state {
            state = .finished
            return .endStream(fault: error.message, counted: counted, reusable: false)
        }
        state = .finished
        return .fail(error, counted: counted)
    }
}
