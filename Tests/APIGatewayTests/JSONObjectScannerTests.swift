import Foundation
import Testing
@testable import APIGateway

@Suite struct JSONObjectScannerTests {
    private func scan(_ text: String) throws(JSONObjectMembers.SyntaxError) -> JSONObjectMembers {
        try JSONObjectMembers(scanning: Data(text.utf8))
    }

    @Test func membersCarryKindAndExactValueRange() throws {
        let text = #" { "model" : "m\"x", "messages":[{"role":"user","content":[1,2.5e-3,-0,true]}], "stream":true, "n":null, "k\u00e9y":{} } "#
        let data = Data(text.utf8)
        let members = try JSONObjectMembers(scanning: data)
        #expect(members.members.map(\.key) == ["model", "messages", "stream", "n", "kéy"])
        #expect(members.members.map(\.kind) == [.string, .array, .true, .null, .object])
        #expect(String(decoding: JSONObjectMembers.slice(try #require(members["model"]), of: data), as: UTF8.self) == #""m\"x""#)
        #expect(members.string("model", in: data) == #"m"x"#)
        #expect(members.string("messages", in: data) == nil)
        #expect(members.duplicateKey == nil)
    }

    @Test func aSliceOfLargerDataIsScannedAtItsOwnOffsets() throws {
        let whole = Data(#"xx{"model":"a"}"#.utf8)
        let data = whole.dropFirst(2)
        let members = try JSONObjectMembers(scanning: data)
        #expect(members.string("model", in: data) == "a")
    }

    @Test func aRepeatedKeyIsReported() throws {
        #expect(try scan(#"{"model":"a","x":1,"model":"b"}"#).duplicateKey == "model")
    }

    @Test(arguments: [
        ("", "the document is empty"),
        ("[1]", "not a JSON object"),
        (#"{"a":1"#, "',' or '}'"),
        (#"{"a":1,}"#, "expected a string"),
        (#"{"a" 1}"#, "':' after a key"),
        (#"{"a":01}"#, "',' or '}'"),
        (#"{"a":1.}"#, "expected a digit"),
        (#"{"a":-}"#, "expected a digit"),
        (#"{"a":tru}"#, "expected true"),
        (#"{"a":"x\q"}"#, "unknown escape"),
        (#"{"a":"\u12g4"}"#, "four hex digits"),
        ("{\"a\":\"tab\there\"}", "control character"),
        (#"{"a":"open}"#, "not closed"),
        (#"{"a":1} {}"#, "more after the object"),
        (#"{"a":[1,2}"#, "',' or ']'"),
        (#"{"a":[1,]}"#, "expected a value"),
        (#"{"a":'x'}"#, "expected a value"),
    ])
    func malformedDocumentsAreRefusedWithTheReason(_ text: String, _ reason: String) {
        #expect {
            try scan(text)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test(arguments: [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF]] as [[UInt8]])
    func invalidUTF8InAStringIsRefused(_ sequence: [UInt8]) {
        let data = Data(#"{"a":""#.utf8) + Data(sequence) + Data(#""}"#.utf8)
        #expect(throws: JSONObjectMembers.SyntaxError.self) { try JSONObjectMembers(scanning: data) }
    }

    @Test func validUTF8AndEscapesPass() throws {
        _ = try scan(#"{"a":"héllo € 𝄞 \ud834\udd1e \n\t\/"}"#)
    }

    @Test func nestingIsBounded() throws {
        let deep = String(repeating: "[", count: JSONObjectMembers.maximumDepth + 1) + String(repeating: "]", count: JSONObjectMembers.maximumDepth + 1)
        #expect(throws: JSONObjectMembers.SyntaxError.self) { try scan(#"{"a":"# + deep + "}") }
        let allowed = String(repeating: "[", count: JSONObjectMembers.maximumDepth - 1) + String(repeating: "]", count: JSONObjectMembers.maximumDepth - 1)
        _ = try scan(#"{"a":"# + allowed + "}")
    }

    /// Agrees with Foundation's parser on what is a JSON object, over a set of documents built to differ.
    /// (Foundation also takes a trailing comma in an array, `[1,]`, which RFC 8259 and llama-server do not.)
    @Test func agreesWithFoundationOnAcceptance() {
        let documents = [
            #"{}"#, #"{"a":{}}"#, #"{"a":[]}"#, #"{"a":1e5}"#, #"{"a":1E+5}"#, #"{"a":-0.0}"#, #"{"a":[null,false]}"#,
            #"{"a":1,"b":[{"c":"d"}]}"#, "{\n\t\"a\" :\r\n 1 }", #"{"a":+1}"#, #"{"a":.5}"#, #"{"a":NaN}"#,
            #"{a:1}"#, #"{"a":1}}"#, #"{"a":"\u0000"}"#,
        ]
        for text in documents {
            let ours = (try? scan(text)) != nil
            let foundation = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [String: Any]
            #expect(ours == foundation, "\(text): scanner \(ours), Foundation \(foundation)")
        }
    }
}
