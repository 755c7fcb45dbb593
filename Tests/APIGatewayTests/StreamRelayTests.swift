import Testing
import UpstreamClient
@testable import APIGateway

@Suite struct StreamRelayTests {
    private func text(_ output: StreamRelay.Output) -> String { String(decoding: output.bytes, as: UTF8.self) }

    @Test func anEventGoesOutWhenItsBlankLineArrivesNotBefore() throws {
        var relay = StreamRelay()
        #expect(try relay.relay(Array(#"data: {"choices":[]"#.utf8)).bytes.isEmpty)
        #expect(try text(relay.relay(Array("}\n".utf8))).isEmpty)
        #expect(try text(relay.relay(Array("\n".utf8))) == "data: {\"choices\":[]}\n\n")
        #expect(try text(relay.relay(Array("data: [DONE]\r\n\r\n".utf8))) == "data: [DONE]\n\n")
        #expect(relay.finish() == nil)
    }

    @Test func commentsFieldsAndUsagePassOn() throws {
        var relay = StreamRelay()
        let output = try relay.relay(Array(":\n\n: ping\n\nevent: chunk\nid: 7\ndata: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n".utf8))
        #expect(text(output) == ":\n\n: ping\n\nevent: chunk\nid: 7\ndata: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n")
        #expect(output.usage?.promptTokens == 3 && output.usage?.completionTokens == 4)
    }

    @Test func anOddUsageIsNotAFault() throws {
        var relay = StreamRelay()
        let output = try relay.relay(Array("data: {\"usage\":{\"tokens\":\"many\"}}\n\n".utf8))
        #expect(output.usage == nil && !output.bytes.isEmpty)
    }

    @Test(arguments: ["data: <html>\n\n", "data: [1,2]\n\n", "data: \"text\"\n\n", "data: {\"a\":\n\n"])
    func dataThatIsNotAJSONObjectIsAFault(_ garbage: String) {
        var relay = StreamRelay()
        #expect(throws: StreamRelay.Fault.self) { try relay.relay(Array(garbage.utf8)) }
    }

    @Test func aLineOverTheLimitIsAFault() {
        var relay = StreamRelay(maximumLineLength: 64)
        #expect(throws: StreamRelay.Fault.self) { try relay.relay([UInt8](repeating: UInt8(ascii: "x"), count: 65)) }
    }

    @Test func eventsAfterDoneAreAFault() throws {
        var relay = StreamRelay()
        _ = try relay.relay(Array("data: [DONE]\n\n".utf8))
        #expect(throws: StreamRelay.Fault.self) { try relay.relay(Array("data: {}\n\n".utf8)) }
    }

    @Test func theEndMustBeDoneOrAnErrorTheUpstreamReported() throws {
        var cut = StreamRelay()
        _ = try cut.relay(Array("data: {}\n\n".utf8))
        #expect(cut.finish()?.message.contains("before data: [DONE]") == true)

        var midEvent = StreamRelay()
        _ = try midEvent.relay(Array("data: {}\n\ndata: {\"cho".utf8))
        #expect(midEvent.finish()?.message.contains("middle of an event") == true)

        var reported = StreamRelay()
        _ = try reported.relay(Array("data: {\"error\":{\"code\":500,\"message\":\"context exceeded\"}}\n\n".utf8))
        #expect(reported.finish() == nil)
    }
}
