import FoundationEssentials
import HTTPTypes
import Hummingbird

/// JSON answers of the servers that are not OpenAI's shape: the console's, the daemon socket's own routes. A refusal
/// is `{"error": "…"}`; strings are encoded by `JSONEncoder`, so nothing in them can break out of the document.
public enum JSONResponse {
    public static func make(_ data: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        if fields[.cacheControl] == nil { fields[.cacheControl] = "no-store" }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func refusal(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        make(Data(#"{"error":\#(quoted(message))}"#.utf8), status: status, headers: headers)
    }

    /// `text` as a JSON string literal, quotes included.
    public static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data(#""""#.utf8), as: UTF8.self)
    }
}
