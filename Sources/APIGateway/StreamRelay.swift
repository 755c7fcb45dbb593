import FoundationEssentials
import UpstreamClient

/// What the gateway reads from one upstream JSON document, a response body or a stream event's data: that
/// it is a JSON object at all, the usage it reports and whether it is an error. Lenient about everything
/// else, so any OpenAI-shaped upstream passes.
struct UpstreamDocument {
    let usage: Usage?
    let isError: Bool
    /// Where the top-level `model` string is, to say the id the client asked for instead of the upstream's name.
    let model: Range<Int>?

    init(_ data: Data) throws(JSONObjectMembers.SyntaxError) {
        let members = try JSONObjectMembers(scanning: data)
        isError = members["error"] != nil
        model = members["model"].flatMap { $0.kind == .string ? $0.value : nil }
        usage = members["usage"].flatMap { usage in
            guard usage.kind == .object else { return nil }
            let object = JSONObjectMembers.slice(usage, of: data)
            guard let counts = try? JSONObjectMembers(scanning: object),
                  let prompt = counts.integer("prompt_tokens", in: object),
                  let completion = counts.integer("completion_tokens", in: object) else { return nil }
            return Usage(promptTokens: prompt, completionTokens: completion)
        }
    }

    /// `data` (the document this scanned) with its `model` replaced by `modelJSON`, a JSON string.
    func renamingModel(in data: Data, to modelJSON: Data) -> Data {
        guard let model else { return data }
        let start = data.startIndex
        return data[start..<(start + model.lowerBound)] + modelJSON + data[(start + model.upperBound)...]
    }
}

/// Relays an upstream event stream to the client event by event. Each event goes out the moment its
/// closing blank line arrives, re-framed from the parsed fields, so the client only ever sees well-formed
/// server-sent events; comments (`: ping`) and `data: [DONE]` pass as they came.
///
/// A stream that stops being an OpenAI event stream is a fault, not something to forward: an event whose
/// data is neither a JSON object nor `[DONE]`, a line longer than `maximumLineLength`, or an end that is
/// neither `[DONE]` nor an error the upstream reported itself. Forwarding such bytes would leave the client's
/// SDK failing to parse them; ending with an error event names the real problem. A pure value type: the
/// gateway feeds it chunks, and tests can feed it bytes.
struct StreamRelay {
    struct Fault: Error, Equatable {
        let message: String
    }

    /// What one chunk produced: the bytes to write (possibly none, when the chunk ended mid-event) and the
    /// usage it reported.
    struct Output {
        var bytes: [UInt8] = []
        var usage: Usage?
    }

    private var parser: ServerSentEventParser
    private var ended = false
    private var reportedError = false
    /// The model id the client asked for, as a JSON string: every event says it rather than the upstream's name.
    private let modelJSON: Data?

    init(maximumLineLength: Int = 1024 * 1024, modelJSON: Data? = nil) {
        parser = ServerSentEventParser(maximumLineLength: maximumLineLength)
        self.modelJSON = modelJSON
    }

    mutating func relay(_ chunk: some Sequence<UInt8>) throws(Fault) -> Output {
        let items: [ServerSentEventItem]
        do {
            items = try parser.feed(chunk)
        } catch {
            throw Fault(message: "the meta model's stream is malformed: \(error.message)")
        }
        var output = Output()
        for item in items {
            switch item {
            case .comment(let text):
                output.bytes += Array(":\(text.isEmpty ? "" : " " + text)\n\n".utf8)
            case .event(var event):
                if ended {
                    throw Fault(message: "the meta model's stream went on after data: [DONE]")
                }
                if event.isDone {
                    ended = true
                } else {
                    let data = Data(event.data.utf8)
                    let document: UpstreamDocument
                    do {
                        document = try UpstreamDocument(data)
                    } catch {
                        throw Fault(message: "the meta model's stream carried an event that is not a JSON object (\(event.data.utf8.count) bytes)")
                    }
                    if let usage = document.usage { output.usage = usage }
                    reportedError = reportedError || document.isError
                    if let modelJSON, document.model != nil {
                        event.data = String(decoding: document.renamingModel(in: data, to: modelJSON), as: UTF8.self)
                    }
                }
                output.bytes += Self.frame(event)
            }
        }
        return output
    }

    /// Call when the upstream's body ended: the fault, if the stream ended without saying it was done.
    mutating func finish() -> Fault? {
        let incomplete = parser.finish()
        if ended || reportedError { return nil }
        return Fault(message: incomplete ? "the meta model's stream ended in the middle of an event"
                                         : "the meta model's stream ended before data: [DONE]")
    }

    private static func frame(_ event: ServerSentEvent) -> [UInt8] {
        var text = ""
        if let type = event.event { text += "event: \(type)\n" }
        if let id = event.id { text += "id: \(id)\n" }
        if let retry = event.retry { text += "retry: \(retry)\n" }
        for line in event.data.split(separator: "\n", omittingEmptySubsequences: false) {
            text += "data: \(line)\n"
        }
        text += "\n"
        return Array(text.utf8)
    }
}
