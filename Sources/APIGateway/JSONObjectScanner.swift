import FoundationEssentials
import Glibc

/// The top-level members of a JSON object, found in one pass that checks the whole document against
/// RFC 8259 (strings, escapes, UTF-8, numbers, literals, nesting) without building any value.
///
/// The gateway forwards bodies as the client sent them and only needs a few top-level fields: where
/// `model` is (to swap in the upstream's name), whether `messages` is an array, whether `stream` is true,
/// the `usage` of an answer. Decoding the whole body into values and encoding it again cost more than
/// everything else the gateway does for a request, and re-encoding would change numbers and key order that
/// clients chose. Byte ranges let it splice instead.
struct JSONObjectMembers {
    enum Kind: Equatable, Sendable { case object, array, string, number, `true`, `false`, null }

    struct Member {
        let key: String
        let kind: Kind
        /// Where the value is in the scanned bytes.
        let value: Range<Int>
    }

    struct SyntaxError: Error, Equatable, CustomStringConvertible {
        let offset: Int
        let problem: String
        var description: String { "\(problem) at byte \(offset)" }
    }

    let members: [Member]
    /// A key that occurs more than once at the top level: JSON parsers disagree on which one wins, so the
    /// gateway refuses such a body rather than check one value and forward the other.
    let duplicateKey: String?

    static let maximumDepth = 512

    init(scanning data: Data) throws(SyntaxError) {
        var result: Result<([Member], String?), SyntaxError> = .failure(SyntaxError(offset: 0, problem: "empty"))
        data.withUnsafeBytes { raw in
            var scanner = Scanner(bytes: raw.bindMemory(to: UInt8.self))
            result = Result { () throws(SyntaxError) in try scanner.topLevelObject() }
        }
        (members, duplicateKey) = try result.get()
    }

    subscript(key: String) -> Member? { members.first { $0.key == key } }

    /// The bytes of `member`'s value in `data`, the document this scanned.
    static func slice(_ member: Member, of data: Data) -> Data {
        data[(data.startIndex + member.value.lowerBound)..<(data.startIndex + member.value.upperBound)]
    }

    /// The value of a number member of `data`, the document this scanned, if it is a whole number.
    func integer(_ key: String, in data: Data) -> Int? {
        guard let member = self[key], member.kind == .number else { return nil }
        return Int(String(decoding: Self.slice(member, of: data), as: UTF8.self))
    }

    /// The value of a number member of `data`, the document this scanned.
    func number(_ key: String, in data: Data) -> Double? {
        guard let member = self[key], member.kind == .number else { return nil }
        return Double(String(decoding: Self.slice(member, of: data), as: UTF8.self))
    }

    /// The value of a string member of `data`, the document this scanned.
    func string(_ key: String, in data: Data) -> String? {
        guard let member = self[key], member.kind == .string else { return nil }
        let quoted = Self.slice(member, of: data)
        if !quoted.contains(UInt8(ascii: "\\")) { return String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self) }
        return try? JSONDecoder().decode(String.self, from: quoted)
    }
}

private struct Scanner {
    typealias SyntaxError = JSONObjectMembers.SyntaxError
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private func fail(_ problem: String) -> SyntaxError { SyntaxError(offset: position, problem: problem) }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
        guard current == byte else { throw fail(current == nil ? "the document ends where \(what) should be" : "expected \(what)") }
        position += 1
    }

    mutating func topLevelObject() throws(SyntaxError) -> ([JSONObjectMembers.Member], String?) {
        skipWhitespace()
        guard current == UInt8(ascii: "{") else { throw fail(current == nil ? "the document is empty" : "the document is not a JSON object") }
        position += 1
        var members: [JSONObjectMembers.Member] = []
        var duplicate: String?
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                let keyStart = position
                let keyHasEscapes = try string()
                let key = try Self.decodeKey(bytes, keyStart..<position, hasEscapes: keyHasEscapes)
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after a key")
                skipWhitespace()
                let valueStart = position
                let kind = try value(depth: 1)
                if duplicate == nil, members.contains(where: { $0.key == key }) { duplicate = key }
                members.append(.init(key: key, kind: kind, value: valueStart..<position))
                skipWhitespace()
                if current == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "}"), "',' or '}'")
                break
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw fail("there is more after the object") }
        return (members, duplicate)
    }

    private static func decodeKey(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, hasEscapes: Bool) throws(SyntaxError) -> String {
        let inner = UnsafeBufferPointer(rebasing: bytes[(range.lowerBound + 1)..<(range.upperBound - 1)])
        guard hasEscapes else { return String(decoding: inner, as: UTF8.self) }
        // Rare (keys are plain ASCII in practice): let Foundation handle the escapes of an already checked string.
        guard let key = try? JSONDecoder().decode(String.self, from: Data(UnsafeBufferPointer(rebasing: bytes[range]))) else {
            throw SyntaxError(offset: range.lowerBound, problem: "a key with an escape that does not decode")
        }
        return key
    }

    private mutating func value(depth: Int) throws(SyntaxError) -> JSONObjectMembers.Kind {
        guard depth <= JSONObjectMembers.maximumDepth else { throw fail("nested deeper than \(JSONObjectMembers.maximumDepth) levels") }
        guard let byte = current else { throw fail("the document ends where a value should be") }
        switch byte {
        case UInt8(ascii: "{"):
            position += 1
            skipWhitespace()
            if current == UInt8(ascii: "}") { position += 1; return .object }
            while true {
                skipWhitespace()
                _ = try string()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after a key")
                skipWhitespace()
                _ = try value(depth: depth + 1)
                skipWhitespace()
                if current == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "}"), "',' or '}'")
                return .object
            }
        case UInt8(ascii: "["):
            position += 1
            skipWhitespace()
            if current == UInt8(ascii: "]") { position += 1; return .array }
            while true {
                skipWhitespace()
                _ = try value(depth: depth + 1)
                skipWhitespace()
                if current == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "]"), "',' or ']'")
                return .array
            }
        case UInt8(ascii: "\""):
            _ = try string()
            return .string
        case UInt8(ascii: "t"):
            try literal("true")
            return .true
        case UInt8(ascii: "f"):
            try literal("false")
            return .false
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try number()
            return .number
        default:
            throw fail("expected a value")
        }
    }

    private mutating func literal(_ word: StaticString) throws(SyntaxError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count,
              memcmp(bytes.baseAddress! + position, word.utf8Start, count) == 0 else { throw fail("expected \(word)") }
        position += count
    }

    private mutating func digits() throws(SyntaxError) {
        guard let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw fail("expected a digit") }
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { position += 1 }
    }

    private mutating func number() throws(SyntaxError) {
        if current == UInt8(ascii: "-") { position += 1 }
        if current == UInt8(ascii: "0") {
            position += 1
        } else {
            try digits()
        }
        if current == UInt8(ascii: ".") {
            position += 1
            try digits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            try digits()
        }
    }

    /// A string starting at the opening quote; returns whether it has escapes.
    private mutating func string() throws(SyntaxError) -> Bool {
        guard current == UInt8(ascii: "\"") else { throw fail(current == nil ? "the document ends where a string should be" : "expected a string") }
        position += 1
        var escapes = false
        while true {
            guard let byte = current else { throw fail("a string is not closed") }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return escapes
            case UInt8(ascii: "\\"):
                escapes = true
                position += 1
                switch current {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 1
                case UInt8(ascii: "u"):
                    position += 1
                    for _ in 0..<4 {
                        guard let hex = current, hex.isHexDigit else { throw fail("\\u needs four hex digits") }
                        position += 1
                    }
                default:
                    throw fail("an unknown escape in a string")
                }
            case 0..<0x20:
                throw fail("a control character in a string")
            case 0x20..<0x80:
                position += 1
            default:
                try utf8Sequence(lead: byte)
            }
        }
    }

    /// One multi-byte UTF-8 sequence, rejecting overlong forms, surrogates and values above U+10FFFF.
    private mutating func utf8Sequence(lead: UInt8) throws(SyntaxError) {
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw fail("invalid UTF-8")
        }
        guard position + length <= bytes.count, secondRange.contains(bytes[position + 1]) else { throw fail("invalid UTF-8") }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[position + offset]) { throw fail("invalid UTF-8") }
        position += length
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
