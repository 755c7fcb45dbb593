import Foundation

/// Groups log messages into templates online, so the trigger model classifies a kind of line once instead of
/// every line: variable parts are masked (numbers, hex, addresses, paths, UUIDs, durations, names after
/// `user`/`from`/`host`/…), then messages are clustered Drain-style — by token count, then by the first
/// token, then by token similarity — with positions that differ becoming `<*>`.
///
/// A masked message seen before is found by one dictionary lookup, which is what most lines of a busy
/// journal are; only new shapes walk the clusters. Not thread-safe: one miner per pipeline.
public struct TemplateMiner: Sendable {
    public struct Template: Sendable, Equatable {
        /// Stable for the life of the cluster, also when it generalises (a verdict stays attached).
        public let id: Int
        public var tokens: [String]
        public var count: Int
        public var text: String { tokens.joined(separator: " ") }

        public init(id: Int, tokens: [String], count: Int) {
            self.id = id
            self.tokens = tokens
            self.count = count
        }
    }

    /// What `add` found: the template, whether this line created it, whether it changed the template's tokens (a
    /// position became `<*>`), and whether its masked message was new (not one dictionary lookup).
    public struct Match: Sendable, Equatable {
        public let id: Int
        public let isNew: Bool
        public var changed = false
        public var newKey = true

        public init(id: Int, isNew: Bool, changed: Bool = false, newKey: Bool = true) {
            self.id = id
            self.isNew = isNew
            self.changed = changed
            self.newKey = newKey
        }
    }

    /// How alike a message must be to a cluster (equal tokens / all tokens) to join it.
    public let similarity: Double
    public private(set) var templates: [Template] = []
    /// Masked message (UTF-8) → index into `templates`.
    private var exact: [MaskedKey: Int] = [:]

    /// Hashed as one buffer: `[UInt8]`'s own hashing feeds the hasher a byte at a time.
    private struct MaskedKey: Hashable, Sendable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
    private var scratch: [UInt8] = []
    /// token count → first token → indices into `templates`.
    private var tree: [Int: [String: [Int]]] = [:]
    /// Template id → index into `templates`.
    private var indexByID: [Int: Int] = [:]
    private var nextID: Int

    public init(similarity: Double = 0.5, firstID: Int = 1) {
        self.similarity = similarity
        self.nextID = firstID
    }

    /// Re-creates a miner from templates stored earlier, so ids survive a restart.
    public init(restoring stored: [Template], similarity: Double = 0.5) {
        self.init(similarity: similarity, firstID: (stored.map(\.id).max() ?? 0) + 1)
        for template in stored { insert(template) }
    }

    public subscript(id: Int) -> Template? {
        indexByID[id].map { templates[$0] }
    }

    public mutating func add(_ message: String) -> Match {
        Self.maskedKey(Array(message.utf8), into: &scratch)
        if let index = exact[MaskedKey(bytes: scratch)] {
            templates[index].count += 1
            return Match(id: templates[index].id, isNew: false, newKey: false)
        }
        let key = scratch
        let tokens = key.isEmpty ? [] : key.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        let first = tokens.first.map(Self.bucket) ?? ""
        if let candidates = tree[tokens.count]?[first] {
            var best: (index: Int, score: Double)?
            for index in candidates {
                let score = Self.score(templates[index].tokens, tokens)
                if score >= similarity, score > (best?.score ?? -1) { best = (index, score) }
            }
            if let best {
                var merged = templates[best.index].tokens
                for position in merged.indices where merged[position] != tokens[position] { merged[position] = "<*>" }
                let changed = merged != templates[best.index].tokens
                templates[best.index].tokens = merged
                templates[best.index].count += 1
                exact[MaskedKey(bytes: key)] = best.index
                return Match(id: templates[best.index].id, isNew: false, changed: changed)
            }
        }
        let template = Template(id: nextID, tokens: tokens, count: 1)
        nextID += 1
        let index = insert(template)
        exact[MaskedKey(bytes: key)] = index
        return Match(id: template.id, isNew: true)
    }

    @discardableResult
    private mutating func insert(_ template: Template) -> Int {
        templates.append(template)
        let index = templates.count - 1
        indexByID[template.id] = index
        let first = template.tokens.first.map(Self.bucket) ?? ""
        tree[template.tokens.count, default: [:]][first, default: []].append(index)
        return index
    }

    /// Placeholders share one bucket, so `<NUM> connections` and `<*> connections` meet.
    private static func bucket(_ token: String) -> String {
        token.hasPrefix("<") && token.hasSuffix(">") ? "<*>" : token
    }

    private static func score(_ template: [String], _ tokens: [String]) -> Double {
        guard !tokens.isEmpty else { return 1 }
        var equal = 0
        for (a, b) in zip(template, tokens) where a == b || a == "<*>" { equal += 1 }
        return Double(equal) / Double(tokens.count)
    }

    // MARK: Masking
    //
    // On UTF-8 bytes: this runs for every token of every line, and a replay reads millions of lines. Only a
    // message whose masked form is new becomes Strings.

    /// Words after which the next token is a name (a user, a host) rather than wording. Kept to words that
    /// introduce names in sshd, sudo, PAM and the kernel's own messages; "for" and "to" are too common.
    private static let nameKeywords: [[UInt8]: [UInt8]] = [
        Array("user".utf8): Array("<USER>".utf8), Array("uid".utf8): Array("<USER>".utf8), Array("ruser".utf8): Array("<USER>".utf8),
        Array("from".utf8): Array("<HOST>".utf8), Array("host".utf8): Array("<HOST>".utf8), Array("rhost".utf8): Array("<HOST>".utf8),
    ]

    /// The message as tokens with its variable parts replaced by placeholders.
    public static func mask(_ message: String) -> [String] {
        var key: [UInt8] = []
        maskedKey(Array(message.utf8), into: &key)
        return key.isEmpty ? [] : key.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A token: a slice of the message's bytes, borrowed (no reference counting on the hot path).
    typealias Bytes = Slice<UnsafeBufferPointer<UInt8>>

    /// The masked tokens of `message`, joined by single spaces, written into `key` (cleared first).
    static func maskedKey(_ message: [UInt8], into key: inout [UInt8]) {
        key.removeAll(keepingCapacity: true)
        message.withUnsafeBufferPointer { message in maskedKey(message, into: &key) }
    }

    private static func maskedKey(_ message: UnsafeBufferPointer<UInt8>, into key: inout [UInt8]) {
        var pendingName: [UInt8]?
        var start = 0
        let count = message.count
        while start < count {
            while start < count, message[start] == 0x20 || message[start] == 0x09 { start += 1 }
            guard start < count else { break }
            var end = start
            while end < count, message[end] != 0x20, message[end] != 0x09 { end += 1 }
            let token = message[start..<end]
            if !key.isEmpty { key.append(0x20) }
            let mark = key.count
            let changed = appendMasked(token, to: &key)
            // A name is a plain word after a keyword — not another keyword, not something already masked.
            let keyword = changed ? nil : Self.keyword(token)
            if let name = pendingName, !changed, keyword == nil, let first = token.first,
               (first >= 65 && first <= 90) || (first >= 97 && first <= 122) || first == 95 || first >= 0x80 {
                key.removeSubrange(mark...)
                key.append(contentsOf: name)
            }
            pendingName = keyword
            start = end
        }
    }

    /// The placeholder a keyword announces, if `token` (without surrounding punctuation, any case) is one.
    private static func keyword(_ token: Bytes) -> [UInt8]? {
        var word = token
        while let last = word.last, isPunctuation(last) { word = word.dropLast() }
        while let first = word.first, isPunctuation(first) { word = word.dropFirst() }
        guard word.count >= 3, word.count <= 5 else { return nil }
        return nameKeywords[word.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }]
    }

    private static func isPunctuation(_ b: UInt8) -> Bool {
        (b >= 33 && b <= 47) || (b >= 58 && b <= 64) || (b >= 91 && b <= 96) || (b >= 123 && b <= 126)
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    private static func isHexDigit(_ b: UInt8) -> Bool { isDigit(b) || (b >= 97 && b <= 102) || (b >= 65 && b <= 70) }
    private static func isOpening(_ b: UInt8) -> Bool { b == 40 || b == 91 || b == 123 || b == 34 || b == 39 || b == 60 }
    private static func isClosing(_ b: UInt8) -> Bool {
        b == 41 || b == 93 || b == 125 || b == 34 || b == 39 || b == 44 || b == 59 || b == 46 || b == 58 || b == 62
    }

    /// Appends the token's masked form, keeping `key=` and surrounding punctuation (`pid=1234,` →
    /// `pid=<NUM>,`); returns whether anything was replaced.
    @discardableResult
    static func appendMasked(_ token: Bytes, to key: inout [UInt8]) -> Bool {
        if let equals = token.firstIndex(of: UInt8(ascii: "=")), equals != token.startIndex, equals + 1 < token.endIndex {
            key.append(contentsOf: token[...equals])
            return appendMasked(token[(equals + 1)...], to: &key)
        }
        // Peel quotes, brackets and trailing punctuation so `(1234)` and `1234,` mask like `1234`.
        var core = token
        while let first = core.first, isOpening(first), core.count > 1 { core = core.dropFirst() }
        while let last = core.last, isClosing(last), core.count > 1 { core = core.dropLast() }
        guard let placeholder = placeholder(for: core) else {
            key.append(contentsOf: token)
            return false
        }
        key.append(contentsOf: token[token.startIndex..<core.startIndex])
        key.append(contentsOf: UnsafeBufferPointer(start: placeholder.utf8Start, count: placeholder.utf8CodeUnitCount))
        key.append(contentsOf: token[core.endIndex..<token.endIndex])
        return true
    }

    private static func placeholder(for token: Bytes) -> StaticString? {
        guard let first = token.first else { return nil }
        if first == UInt8(ascii: "/"), token.count > 1 { return "<PATH>" }
        var digits = 0
        for byte in token where isDigit(byte) { digits += 1 }
        if token.count == 36 {
            let base = token.startIndex
            let dashes = [8, 13, 18, 23]
            if dashes.allSatisfy({ token[base + $0] == 45 }),
               token.indices.allSatisfy({ dashes.contains($0 - base) || isHexDigit(token[$0]) }) {
                return "<UUID>"
            }
        }
        guard digits > 0 else { return nil }
        if token.count > 2, first == 48, token[token.startIndex + 1] | 0x20 == 120, token.dropFirst(2).allSatisfy(isHexDigit) {
            return "<HEX>"
        }
        if isAddress(token) { return "<IP>" }
        if digits == token.count || isNumber(token) { return "<NUM>" }
        if isDuration(token) { return "<DUR>" }
        if token.count >= 8, token.allSatisfy(isHexDigit) { return "<HEX>" }
        // Anything else with a digit in it (session-42.scope, eth0:1, v2.3.1-rc4) is a variable, as in Drain.
        return "<*>"
    }

    private static func isNumber(_ token: Bytes) -> Bool {
        var body = token
        if body.first == UInt8(ascii: "-") || body.first == UInt8(ascii: "+") { body = body.dropFirst() }
        if body.last == UInt8(ascii: "%") { body = body.dropLast() }
        var dots = 0
        for byte in body {
            if byte == UInt8(ascii: ".") { dots += 1; continue }
            guard isDigit(byte) else { return false }
        }
        return !body.isEmpty && dots <= 1
    }

    /// IPv4 with an optional `:port`, or IPv6 (hex groups and at least two colons).
    private static func isAddress(_ token: Bytes) -> Bool {
        var octets = 0, length = 0, index = token.startIndex
        while index < token.endIndex {
            let byte = token[index]
            if isDigit(byte) {
                length += 1
                if length > 3 { break }
            } else if byte == UInt8(ascii: "."), length > 0, octets < 3 {
                octets += 1
                length = 0
            } else {
                break
            }
            index += 1
        }
        if octets == 3, length > 0 {
            if index == token.endIndex { return true }
            if token[index] == UInt8(ascii: ":"), index + 1 < token.endIndex, token[(index + 1)...].allSatisfy(isDigit) { return true }
        }
        var colons = 0
        for byte in token {
            if byte == UInt8(ascii: ":") { colons += 1 } else if !(byte == UInt8(ascii: ".") || isHexDigit(byte)) { return false }
        }
        return colons >= 2
    }

    private static let durationUnits: [[UInt8]] = ["ms", "us", "µs", "ns", "min", "s", "h", "d"].map { Array($0.utf8) }

    private static func isDuration(_ token: Bytes) -> Bool {
        guard let unit = durationUnits.first(where: { token.count > $0.count && token.suffix($0.count).elementsEqual($0) }) else { return false }
        return isNumber(token.dropLast(unit.count))
    }
}
