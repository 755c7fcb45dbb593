import Testing
import UpstreamClient

@Suite struct ServerSentEventParserTests {
    private func parse(_ chunks: [String]) throws -> [ServerSentEventItem] {
        var parser = ServerSentEventParser()
        return try chunks.flatMap { try parser.feed(Array($0.utf8)) }
    }

    @Test func eventSplitAcrossChunksArrivesOnceComplete() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("da".utf8)).isEmpty)
        #expect(try parser.feed(Array("ta: {\"a\":".utf8)).isEmpty)
        #expect(try parser.feed(Array("1}\n".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n".utf8)) == [.event(.init(data: "{\"a\":1}"))])
    }

    @Test func multiLineDataIsJoinedWithNewlines() throws {
        #expect(try parse(["data: first\ndata: second\ndata:third\n\n"]) == [.event(.init(data: "first\nsecond\nthird"))])
    }

    @Test func commentsAreReportedSeparately() throws {
        #expect(try parse([": ping\n\ndata: x\n\n"]) == [.comment("ping"), .event(.init(data: "x"))])
    }

    @Test func doneMarkerIsRecognised() throws {
        let items = try parse(["data: [DONE]\n\n"])
        guard case .event(let event) = items.first else { Issue.record("no event in \(items)"); return }
        #expect(event.isDone)
    }

    @Test func everyLineEndingIsAccepted() throws {
        let expected: [ServerSentEventItem] = [.event(.init(data: "a")), .event(.init(data: "b")), .event(.init(data: "c"))]
        #expect(try parse(["data: a\r\n\r\ndata: b\r\rdata: c\n\n"]) == expected)
        // A CR at the end of one chunk and its LF at the start of the next are one line ending.
        #expect(try parse(["data: a\r", "\n\r", "\n"]) == [.event(.init(data: "a"))])
    }

    @Test func eventTypeIdAndRetryAreParsed() throws {
        #expect(try parse(["event: update\nid: 7\nretry: 1500\ndata: {}\n\n"])
            == [.event(.init(event: "update", data: "{}", id: "7", retry: 1500))])
    }

    @Test func byteOrderMarkAtStartIsIgnored() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed([0xEF, 0xBB, 0xBF] + Array("data: x\n\n".utf8)) == [.event(.init(data: "x"))])
    }

    @Test func blankLinesWithoutDataDispatchNothing() throws {
        #expect(try parse(["\n\nevent: lonely\n\n"]).isEmpty)
    }

    @Test func unterminatedEventAtEndIsReportedIncomplete() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("data: half".utf8)).isEmpty)
        let incomplete = parser.finish()
        #expect(incomplete)
        var clean = ServerSentEventParser()
        _ = try clean.feed(Array("data: whole\n\n".utf8))
        let cleanIncomplete = clean.finish()
        #expect(!cleanIncomplete)
    }

    @Test func overlongLineIsMalformed() throws {
        #expect {
            var parser = ServerSentEventParser(maximumLineLength: 16)
            _ = try parser.feed(Array("data: \(String(repeating: "x", count: 32))".utf8))
        } throws: { ($0 as? UpstreamError)?.code == .malformedStream }
    }
}
