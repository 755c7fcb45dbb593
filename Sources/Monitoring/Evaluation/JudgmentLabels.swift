import Foundation

/// What a labelled line deserves from Layer 1.
public enum ExpectedJudgment: Sendable, Equatable, CustomStringConvertible {
    /// No event (`normal`, or `info`: Layer 1 raises events from warning up).
    case normal
    /// An event of any severity.
    case alert
    /// An event of at least this severity (warning, error or critical).
    case atLeast(Severity)

    public var isIncident: Bool { self != .normal }

    public var description: String {
        switch self {
        case .normal: "normal"
        case .alert: "alert"
        case .atLeast(let severity): severity.rawValue
        }
    }

    /// Each label a file may use, and what it expects.
    static let byName: KeyValuePairs<String, ExpectedJudgment> = [
        "normal": .normal, "info": .normal, "alert": .alert, "warning": .atLeast(.warning), "error": .atLeast(.error),
        "critical": .atLeast(.critical),
    ]

    public static var names: [String] { byName.map(\.key) }

    public init?(_ name: String) {
        let lowercased = name.lowercased()
        guard let expected = Self.byName.first(where: { $0.key == lowercased })?.value else { return nil }
        self = expected
    }
}

/// The labels `ai-sysadmin eval` compares Layer 1 with: entry number → what that entry deserves. Entries a file
/// does not name are normal, so a file need only name the incidents.
///
/// Two formats, told apart by the first line that is neither blank nor a `#` comment:
/// - CSV: `line,label[,note]`, an optional header `line,label,...`; the note is for people.
/// - JSONL: `{"line": 12, "label": "error"}` per line (other keys are ignored).
///
/// `line` is the entry's line in the log (1-based) for syslog and `journalctl -o json` dumps, its entry number for
/// `-o export` dumps; `label` is one of `ExpectedJudgment.names`.
public struct JudgmentLabels: Sendable {
    public let expected: [Int: ExpectedJudgment]

    public struct Invalid: Error, CustomStringConvertible {
        /// The labels file's line the problem is on.
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    public init(_ expected: [Int: ExpectedJudgment]) {
        self.expected = expected
    }

    public init(parsing text: String) throws(Invalid) {
        var expected: [Int: ExpectedJudgment] = [:]
        var isJSON: Bool?
        // A byte-order mark, as some editors write, is not part of the first line.
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if isJSON == nil {
                isJSON = line.hasPrefix("{")
                if isJSON == false, line.lowercased().hasPrefix("line,") { continue }
            }
            let (entry, name) = isJSON == true ? try Self.json(line, at: number) : try Self.csv(line, at: number)
            guard entry >= 1 else { throw Invalid(line: number, message: "the entry number must be 1 or more, got \(entry)") }
            guard let judgment = ExpectedJudgment(name) else {
                throw Invalid(line: number, message: "'\(LogText.clean(name, limit: 40))' is not a label; use one of \(ExpectedJudgment.names.joined(separator: ", "))")
            }
            guard expected[entry] == nil else { throw Invalid(line: number, message: "entry \(entry) is labelled twice") }
            expected[entry] = judgment
        }
        self.expected = expected
    }

    private static func csv(_ line: String, at number: Int) throws(Invalid) -> (Int, String) {
        let fields = line.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2 else { throw Invalid(line: number, message: "expected 'line,label', got '\(LogText.clean(line, limit: 60))'") }
        guard let entry = Int(fields[0].trimmingCharacters(in: .whitespaces)) else {
            throw Invalid(line: number, message: "'\(LogText.clean(String(fields[0]), limit: 40))' is not an entry number")
        }
        return (entry, fields[1].trimmingCharacters(in: .whitespaces))
    }

    private static func json(_ line: String, at number: Int) throws(Invalid) -> (Int, String) {
        struct Entry: Decodable { let line: Int }
        struct Named: Decodable { let label: String }
        guard (try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any] else {
            throw Invalid(line: number, message: "not a JSON object (the file's first label is JSON, so every label must be)")
        }
        // JSONDecoder, not JSONSerialization's numbers: `true` and `1.5` are no entry numbers.
        guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(line.utf8)) else {
            throw Invalid(line: number, message: "\"line\" must be a whole number")
        }
        guard let named = try? JSONDecoder().decode(Named.self, from: Data(line.utf8)) else {
            throw Invalid(line: number, message: "\"label\" must be a string")
        }
        return (entry.line, named.label)
    }
}
