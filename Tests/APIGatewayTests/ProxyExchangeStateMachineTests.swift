@testable import APIGateway
import Foundation
import HTTPTypes
import NIOCore
import OpenAIServer
import Testing
import UpstreamClient

/// The proxied exchange's decisions, without a socket: every ending happens once, and what arrives after the end
/// is only cleaned up.
@Suite struct ProxyExchangeStateMachineTests {
    private let modelJSON = Data(#""gpt-4o""#.utf8)

    private func machine(streaming: Bool) -> ProxyExchangeStateMachine {
        ProxyExchangeStateMachine(streaming: streaming, modelJSON: modelJSON, idleTimeout: .seconds(30))
    }

    /// Drives a machine to the point where the request is sent on a connection.
    private func sent(streaming: Bool, reused: Bool = false) -> ProxyExchangeStateMachine {
        var machine = machine(streaming: streaming)
        guard case .connect(fresh: false) = machine.event(.slotGranted),
              case .send = machine.event(.connected(reused: reused)) else {
            Issue.record("the machine did not connect and send")
            return machine
        }
        return machine
    }

    private func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func aWholeAnswerIsPassedOnNamingTheClientsModel() throws {
        var machine = sent(streaming: false)
        #expect(isNone(machine.event(.responseHead(status: 200, contentType: "application/json"))))
        #expect(isNone(machine.event(.responseBody(bytes(#"{"model":"meta","usage":{"prompt_tokens":3,"#)))))
        #expect(isNone(machine.event(.responseBody(bytes(#""completion_tokens":4}}"#)))))
        guard case .respond(let contentType, let body, let usage) = machine.event(.responseEnd) else {
            Issue.record("no answer")
            return
        }
        #expect(contentType == "application/json")
        #expect(String(decoding: body, as: UTF8.self) == #"{"model":"gpt-4o","usage":{"prompt_tokens":3,"completion_tokens":4}}"#)
        #expect(usage == Usage(promptTokens: 3, completionTokens: 4))
        #expect(machine.isFinished)
        #expect(isNone(machine.event(.upstreamClosed(why: "late"))))
        #expect(isNone(machine.event(.clientLeft)))
    }

    @Test func refusalsAndNonsenseFromTheUpstreamBecomeTheGatewaysErrors() {
        for (status, body, expected) in [(503, "Loading model", "upstream_unavailable"), (400, #"{"error":{"message":"bad","code":400}}"#, "upstream_rejected"),
                                         (500, "boom", "upstream_error"), (200, "not json", "upstream_error")] {
            var machine = sent(streaming: false)
            _ = machine.event(.responseHead(status: status, contentType: nil))
            _ = machine.event(.responseBody(bytes(body)))
            guard case .fail(let error, _) = machine.event(.responseEnd) else {
                Issue.record("\(status) \(body) was not refused")
                continue
            }
            #expect(error.code == expected, "\(status) \(body): \(error.message)")
        }
    }

    /// An answer over the limit ends the exchange with an error; it is not dropped with the slot still held.
    @Test func anAnswerTooLargeToHoldFailsAtOnce() {
        var machine = sent(streaming: false)
        _ = machine.event(.responseHead(status: 200, contentType: nil))
        let big = ByteBuffer(repeating: UInt8(ascii: " "), count: ProxyExchangeStateMachine.maximumResponseBytes)
        #expect(isNone(machine.event(.responseBody(big))))
        guard case .fail(let error, let counted) = machine.event(.responseBody(bytes("x"))) else {
            Issue.record("an oversized answer did not fail")
            return
        }
        #expect(error.status == .badGateway && counted == .invalidResponse)
        #expect(machine.isFinished)
        #expect(isNone(machine.event(.totalTimeout)))
    }

    @Test func aStreamIsRelayedEventByEventAndEndsCleanly() {
        var machine = sent(streaming: true)
        guard case .writeStreamHead = machine.event(.responseHead(status: 200, contentType: "text/event-stream")) else {
            Issue.record("no stream head")
            return
        }
        #expect(machine.headWritten)
        guard case .writeEvents(let written, _) = machine.event(.responseBody(bytes("data: {\"model\":\"meta\"}\n\ndata: [DO"))) else {
            Issue.record("no events")
            return
        }
        #expect(String(decoding: written, as: UTF8.self) == "data: {\"model\":\"gpt-4o\"}\n\n")
        _ = machine.event(.responseBody(bytes("NE]\n\n")))
        guard case .endStream(nil, nil, reusable: true) = machine.event(.responseEnd) else {
            Issue.record("the stream did not end cleanly")
            return
        }
    }

    @Test func aBrokenStreamEndsWithAFaultAndItsConnectionIsNotReused() {
        var garbage = sent(streaming: true)
        _ = garbage.event(.responseHead(status: 200, contentType: nil))
        guard case .endStream(let fault?, .malformedStream, reusable: false) = garbage.event(.responseBody(bytes("data: <html>\n\n"))) else {
            Issue.record("garbage was relayed")
            return
        }
        #expect(fault.contains("not a JSON object"))

        var cut = sent(streaming: true)
        _ = cut.event(.responseHead(status: 200, contentType: nil))
        guard case .endStream(let why?, .transport, reusable: false) = cut.event(.upstreamClosed(why: "reset")) else {
            Issue.record("a cut stream did not end with a fault")
            return
        }
        #expect(why.contains("reset"))
    }

    /// A kept-alive connection the server closed just as it was reused: once more on a new one, then an error.
    @Test func aReusedConnectionThatClosesBeforeItsAnswerIsRetriedOnceOnAFreshOne() {
        var machine = sent(streaming: false, reused: true)
        guard case .connect(fresh: true) = machine.event(.upstreamClosed(why: "closed")) else {
            Issue.record("no retry")
            return
        }
        guard case .send = machine.event(.connected(reused: false)) else {
            Issue.record("the retry was not sent")
            return
        }
        guard case .fail(let error, .transport) = machine.event(.upstreamClosed(why: "closed again")) else {
            Issue.record("a second close was retried too")
            return
        }
        #expect(error.status == .badGateway)

        var firstUse = sent(streaming: false, reused: false)
        guard case .fail = firstUse.event(.upstreamClosed(why: "closed")) else {
            Issue.record("a request on a new connection was sent twice")
            return
        }
    }

    /// The upstream not being read because the client is slow is not the model's silence; a client that takes
    /// nothing for the whole idle timeout is dropped rather than holding the model's slot.
    @Test func aSlowClientIsNotASilentModelButAStalledOneIsDropped() {
        var machine = sent(streaming: true)
        _ = machine.event(.responseHead(status: 200, contentType: nil))
        guard case .checkIdleAgain(let wait) = machine.event(.idleCheck(silence: .seconds(90), clientStalled: .seconds(10))) else {
            Issue.record("a stream the client did not read for a while was cut")
            return
        }
        #expect(wait == .seconds(20))
        guard case .checkIdleAgain(let after) = machine.event(.idleCheck(silence: .seconds(10), clientStalled: .zero)) else {
            Issue.record("not checked again")
            return
        }
        #expect(after == .seconds(20))
        guard case .dropClient = machine.event(.idleCheck(silence: .seconds(120), clientStalled: .seconds(31))) else {
            Issue.record("a client that took nothing for the idle timeout kept its slot")
            return
        }
        #expect(machine.isFinished)

        var silent = sent(streaming: true)
        _ = silent.event(.responseHead(status: 200, contentType: nil))
        guard case .endStream(_?, .idleTimeout, reusable: false) = silent.event(.idleCheck(silence: .seconds(31), clientStalled: .zero)) else {
            Issue.record("a silent model was not noticed")
            return
        }
    }

    @Test func aClientThatLeavesEndsTheExchangeOnceAndLateArrivalsAreHandedBack() {
        var waiting = machine(streaming: false)
        guard case .abandon = waiting.event(.clientLeft) else {
            Issue.record("leaving while waiting for a slot did not abandon")
            return
        }
        guard case .releaseLateSlot = waiting.event(.slotGranted) else {
            Issue.record("a slot granted after the client left was kept")
            return
        }
        #expect(isNone(waiting.event(.clientLeft)))

        var connecting = machine(streaming: true)
        _ = connecting.event(.slotGranted)
        _ = connecting.event(.clientLeft)
        guard case .closeLateConnection = connecting.event(.connected(reused: false)) else {
            Issue.record("a connection made after the client left was used")
            return
        }
    }

    @Test func aRefusedSlotIsTheAnswerAndTimeoutsFailOnlyUnfinishedWork() {
        var machine = machine(streaming: false)
        guard case .fail(let error, nil) = machine.event(.slotRefused(OpenAIError(.tooManyRequests, "full", type: "rate_limit_error", code: "queue_full"))) else {
            Issue.record("a refused slot was not the answer")
            return
        }
        #expect(error.code == "queue_full")
        var slow = sent(streaming: false)
        guard case .fail(let timeout, .totalTimeout) = slow.event(.totalTimeout) else {
            Issue.record("the total timeout did not fail the request")
            return
        }
        #expect(timeout.status == .gatewayTimeout)
    }

    private func isNone(_ action: ProxyExchangeStateMachine.Action) -> Bool {
        if case .none = action { true } else { false }
    }
}
