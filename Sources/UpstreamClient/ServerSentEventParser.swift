import FoundationEssentials

/// One dispatched Server-Sent Event.
public struct ServerSentEvent: Sendable, Equatable {
    public var event: String?
    public var data: String
    public var id: String?
    public var retry: Int?

    public init(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }

    /// OpenAI-style streams end with `data: [DONE]`.
    public var isDone: Bool { data == "[DONE]" }
}

/// What the parser yields: events, and comments (such as llama-server's `: ping`), which a gateway forwards.
public enum ServerSentEventItem: Sendable, Equatable {
    case event(ServerSentEvent)
    case comment(String)
}

/// An incremental parser for the `text/event-stream` format (WHATWG HTML, "Server-sent events").
///
/// Feed it bytes in whatever chunks the network delivers: lines split across chunks, `\r\n`, `\r` or `\n`
/// endings, multi-line `data:` fields and a leading byte-order mark are handled. A pure value type, tested
/// without I/O.
public struct ServerSentEventParser: Sendable {
    /// Lines longer than this are a malformed stream, not a reason to buffer without bound.
    public var maximumLineLength: Int

    private var buffer: [UInt8] = []
    private var skipNextLineFeed = false
    private var atStart = true
    private var dataLines: [String] = []
    private var hasData = false
    private var eventType: String?
    private var eventID: String?
    private var retry: Int?

    public init(maximumLineLength: Int = 8 * 1024 * 1024) {
        self.maximumLineLength = maximumLineLength
    }

    /// Consumes `bytes` and returns every item completed by them.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(UpstreamError) -> [ServerSentEventItem] {
        var items: [ServerSentEventItem] = []
        for byte in bytes {
            if skipNextLineFeed {
                skipNextLineFeed = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                processLine(into: &items)
            case UInt8(ascii: "\r"):
                skipNextLineFeed = true
                processLine(into: &items)
            default:
                buffer.append(byte)
                if buffer.count > maximumLineLength {
                    throw UpstreamError(.malformedStream, "an event-stream line exceeds \(maximumLineLength) bytes")
                }
            }
        }
        return items
    }

    /// Call at the end of the stream: an event not yet terminated by a blank line is discarded, as the
    /// specification requires; returns whether such an incomplete event was pending.
    public mutating func finish() -> Bool {
        let incomplete = !buffer.isEmpty || hasData
        buffer.removeAll()
        resetEvent()
        return incomplete
    }

    private mutating func processLine(into items: inout [ServerSentEventItem]) {
        var line = buffer[...]
        buffer.removeAll(keepingCapacity: true)
        if atStart {
            atStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
        }
        if line.isEmpty {
            if hasData {
                items.append(.event(ServerSentEvent(event: eventType, data: dataLines.joined(separator: "\n"),
                                                    id: eventID, retry: retry)))
            }
            resetEvent()
            return
        }
        if line.first == UInt8(ascii: ":") {
            var comment = line.dropFirst()
            if comment.first == UInt8(ascii: " ") { comment = comment.dropFirst() }
            items.append(.comment(String(decoding: comment, as: UTF8.self)))
            return
        }
        let field: String
        var value: ArraySlice<UInt8> = []
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            value = line[line.index(after: colon)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
            field = String(decoding: line[..<colon], as: UTF8.self)
        } else {
            field = String(decoding: line, as: UTF8.self)
        }
        let text = String(decoding: value, as: UTF8.self)
        switch field {
        case "data":
            dataLines.append(text)
            hasData = true
        case "event":
            eventType = text
        case "id":
            if !text.contains("\0") { eventID = text }
        case "retry":
            if let milliseconds = Int(text), milliseconds >= 0 { retry = milliseconds }
        default:
            break // unknown fields are ignored, as the specification requires
        }
    }

    private mutating func resetEvent() {
        dataLines.removeAll()
        hasData = false
        eventType = nil
        retry = nil
    }
}

extension HTTPStreamingResponse {
    /// The body parsed as Server-Sent Events, comments included. Pull-based: nothing is read from the body
    /// before the consumer asks, so the body's bounded buffer is the only one.
    public var serverSentEvents: ServerSentEventStream { ServerSentEventStream(body: body) }
}

/// Server-Sent Events parsed from a streamed body as the consumer pulls them.
public struct ServerSentEventStream: AsyncSequence, Sendable {
    public typealias Element = ServerSentEventItem

    let body: HTTPBodyStream

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPBodyStream.AsyncIterator
        var parser = ServerSentEventParser()
        var pending: [ServerSentEventItem] = []
        var nextPending = 0

        public mutating func next() async throws -> ServerSentEventItem? {
            while nextPending == pending.count {
                guard let chunk = try await chunks.next() else { return nil }
                pending = try parser.feed(chunk)
                nextPending = 0
            }
            defer { nextPending += 1 }
            return pending[nextPending]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator())
    }
}
