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
    }

    /// What `add` found: the template and whether this line created it.
    public struct Match: Sendable, Equatable {
        public let id: Int
        public let isNew: Bool
    }

    /// How alike a message must be to a cluster (equal tokens / all tokens) to join it.
    public let similarity: Double
    public private(set) var templates: [Template] = []
    private var exact: [String: Int] = [:]
    /// token count → first token → indices into `templates`.
    private var tree: [Int: [String: [Int]]] = [:]
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
        templates.first { $0.id == id }
    }

    public mutating func add(_ message: String) -> Match {
        let tokens = Self.mask(message)
        let key = tokens.joined(separator: " ")
        if let index = exact[key] {
            templates[index].count += 1
            return Match(id: templates[index].id, isNew: false)
        }
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
                templates[best.index].tokens = merged
                templates[best.index].count += 1
                exact[key] = best.index
                return Match(id: templates[best.index].id, isNew: false)
            }
        }
        let template = Template(id: nextID, tokens: tokens, count: 1)
        nextID += 1
        let index = insert(template)
        exact[key] = index
        return Match(id: template.id, isNew: true)
    }

    @discardableResult
    private mutating func insert(_ template: Template) -> Int {
        templates.append(template)
        let index = templates.count - 1
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

    /// Words after which the next token is a name (a user, a host) rather than wording. Kept to words that
    /// introduce names in sshd, sudo, PAM and the kernel's own messages; "for" and "to" are too common.
    private static let nameKeywords: [String: String] = [
        "user": "<USER>", "uid": "<USER>", "ruser": "<USER>", "from": "<HOST>", "host": "<HOST>", "rhost": "<HOST>",
    ]

    /// The message as tokens with its variable parts replaced by placeholders.
    public static func mask(_ message: String) -> [String] {
        var tokens: [String] = []
        var pendingName: String?
        for raw in message.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let token = String(raw)
            let masked = maskToken(token)
            let word = Self.keyword(token)
            defer { pendingName = masked == token ? nameKeywords[word] : nil }
            // A name is a plain word after a keyword — not another keyword, not something already masked.
            if let name = pendingName, masked == token, nameKeywords[word] == nil,
               let first = token.first, first.isLetter || first == "_" {
                tokens.append(name)
            } else {
                tokens.append(masked)
            }
        }
        return tokens
    }

    /// The token lowercased without surrounding ASCII punctuation, if it is short enough to be a keyword;
    /// on bytes, because this runs for every token of every line.
    private static func keyword(_ token: String) -> String {
        var bytes = Array(token.utf8)
        guard bytes.count <= 8 else { return "" }
        let isPunctuation = { (b: UInt8) in (b >= 33 && b <= 47) || (b >= 58 && b <= 64) || (b >= 91 && b <= 96) || (b >= 123 && b <= 126) }
        while let last = bytes.last, isPunctuation(last) { bytes.removeLast() }
        while let first = bytes.first, isPunctuation(first) { bytes.removeFirst() }
        return String(decoding: bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }

    private static let opening: Set<Character> = ["(", "[", "{", "\"", "'", "<"]
    private static let closing: Set<Character> = [")", "]", "}", "\"", "'", ",", ";", ".", ":", ">"]

    /// One token's placeholder, keeping `key=` and surrounding punctuation: `pid=1234,` → `pid=<NUM>,`.
    static func maskToken(_ token: String) -> String {
        if let equals = token.firstIndex(of: "="), equals != token.startIndex {
            let key = token[...equals]
            let value = token[token.index(after: equals)...]
            return value.isEmpty ? token : String(key) + maskToken(String(value))
        }
        // Peel quotes, brackets and trailing punctuation so `(1234)` and `1234,` mask like `1234`.
        guard token.utf8.contains(where: { $0 >= 48 && $0 <= 57 }) || token.hasPrefix("/") || token.utf8.count == 36
            || token.utf8.dropFirst().first == UInt8(ascii: "/") else { return token }
        var core = Substring(token)
        var prefix = "", suffix = ""
        while let first = core.first, Self.opening.contains(first), core.count > 1 { prefix.append(first); core = core.dropFirst() }
        while let last = core.last, Self.closing.contains(last), core.count > 1 { suffix = String(last) + suffix; core = core.dropLast() }
        guard let placeholder = placeholder(for: core) else { return token }
        return prefix + placeholder + suffix
    }

    private static func placeholder(for token: Substring) -> String? {
        let bytes = Array(token.utf8)
        guard !bytes.isEmpty else { return nil }
        let digits = bytes.filter { $0 >= 48 && $0 <= 57 }.count
        let isHexDigit = { (b: UInt8) in (b >= 48 && b <= 57) || (b >= 97 && b <= 102) || (b >= 65 && b <= 70) }
        if bytes.first == UInt8(ascii: "/"), bytes.count > 1 { return "<PATH>" }
        if bytes.count == 36, bytes[8] == 45, bytes[13] == 45, bytes[18] == 45, bytes[23] == 45,
           bytes.enumerated().allSatisfy({ [8, 13, 18, 23].contains($0.offset) || isHexDigit($0.element) }) {
            return "<UUID>"
        }
        guard digits > 0 else { return nil }
        if bytes.count > 2, bytes[0] == 48, bytes[1] == 120 || bytes[1] == 88, bytes.dropFirst(2).allSatisfy(isHexDigit) { return "<HEX>" }
        if isAddress(bytes) { return "<IP>" }
        if digits == bytes.count || isNumber(bytes) { return "<NUM>" }
        if isDuration(token) { return "<DUR>" }
        if bytes.count >= 8, bytes.allSatisfy(isHexDigit) { return "<HEX>" }
        // Anything else with a digit in it (session-42.scope, eth0:1, v2.3.1-rc4) is a variable, as in Drain.
        return "<*>"
    }

    private static func isNumber(_ bytes: [UInt8]) -> Bool {
        var body = bytes[...]
        if body.first == UInt8(ascii: "-") || body.first == UInt8(ascii: "+") { body = body.dropFirst() }
        if body.last == UInt8(ascii: "%") { body = body.dropLast() }
        var dots = 0
        for byte in body {
            if byte == UInt8(ascii: ".") { dots += 1; continue }
            guard byte >= 48 && byte <= 57 else { return false }
        }
        return !body.isEmpty && dots <= 1
    }

    private static func isAddress(_ bytes: [UInt8]) -> Bool {
        // IPv4 with an optional :port, or IPv6 (hex groups and at least two colons).
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: ":", maxSplits: 1)
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }),
           parts.count == 1 || parts[1].allSatisfy(\.isNumber) {
            return true
        }
        let colons = bytes.filter { $0 == UInt8(ascii: ":") }.count
        return colons >= 2 && bytes.allSatisfy { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".")
            || ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }
    }

    private static func isDuration(_ token: Substring) -> Bool {
        let units = ["ms", "us", "µs", "ns", "s", "min", "h", "d"]
        guard let unit = units.first(where: { token.hasSuffix($0) }) else { return false }
        return isNumber(Array(token.dropLast(unit.count).utf8))
    }
}
