import Foundation

/// One log entry, from the journal or a file. Every field came from outside and is treated as hostile:
/// parsers bound lengths and replace control characters before anything else sees them. Decoding goes through
/// the same cleaning.
public struct LogRecord: Sendable, Equatable, Codable {
    public var message: String
    /// syslog priority 0 (emerg) … 7 (debug), when the source says.
    public var priority: Int?
    public var unit: String?
    public var identifier: String?
    public var pid: Int?
    public var hostname: String?
    /// Microseconds since the epoch, when the source says.
    public var timestampMicroseconds: Int64?

    public init(message: String, priority: Int? = nil, unit: String? = nil, identifier: String? = nil, pid: Int? = nil,
                hostname: String? = nil, timestampMicroseconds: Int64? = nil) {
        self.message = LogText.clean(message, limit: LogText.messageLimit)
        self.priority = priority.flatMap { (0...7).contains($0) ? $0 : nil }
        self.unit = unit.map { LogText.clean($0, limit: 256) }
        self.identifier = identifier.map { LogText.clean($0, limit: 128) }
        self.pid = pid.flatMap { $0 > 0 ? $0 : nil }
        self.hostname = hostname.map { LogText.clean($0, limit: 256) }
        self.timestampMicroseconds = timestampMicroseconds
    }

    enum CodingKeys: String, CodingKey { case message, priority, unit, identifier, pid, hostname, timestampMicroseconds }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(message: try c.decode(String.self, forKey: .message), priority: try c.decodeIfPresent(Int.self, forKey: .priority),
                  unit: try c.decodeIfPresent(String.self, forKey: .unit), identifier: try c.decodeIfPresent(String.self, forKey: .identifier),
                  pid: try c.decodeIfPresent(Int.self, forKey: .pid), hostname: try c.decodeIfPresent(String.self, forKey: .hostname),
                  timestampMicroseconds: try c.decodeIfPresent(Int64.self, forKey: .timestampMicroseconds))
    }
}

/// Text from logs, tools and models made safe to show and to prompt with: no control characters, bounded.
public enum LogText {
    /// Longer messages are cut: a template of a 1 MB line helps nobody, and the model sees templates.
    static let messageLimit = 4096

    /// `text` with control characters (ANSI escapes included) replaced by spaces, cut to `limit` characters.
    public static func clean(_ text: String, limit: Int) -> String {
        // Most lines are printable ASCII and short: nothing to do.
        let printable = text.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.count <= limit && !bytes.contains { $0 < 0x20 || $0 >= 0x7F }
        }
        if printable == true { return text }
        var result = ""
        result.reserveCapacity(min(text.utf8.count, limit))
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < limit else { break }
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 {
                result.unicodeScalars.append(" ")
            } else {
                result.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return result
    }
}

/// Reads a log dump: `journalctl -o json`, `journalctl -o export`, or a plain syslog file (RFC 3164
/// `Nov 25 17:36:18 host ident[pid]: message`, or with an ISO 8601 timestamp). The format is recognised
/// from the first line.
public struct LogDumpReader: Sequence, IteratorProtocol {
    public enum Format: String, Sendable { case json, export, syslog }

    public let format: Format
    /// Where the record `next()` returned last was: its line in the file (1-based) for json and syslog dumps, its
    /// entry's number for export dumps. What `ai-sysadmin eval`'s labels refer to.
    public private(set) var recordNumber = 0
    private var lines: LineReader
    private var peeked: [UInt8]?
    private var linesRead = 0

    public init(path: String) throws {
        lines = try LineReader(path: path)
        peeked = lines.next()
        let first = peeked.map { String(decoding: $0, as: UTF8.self) } ?? ""
        if first.hasPrefix("{") {
            format = .json
        } else if first.hasPrefix("__CURSOR=") || first.hasPrefix("__REALTIME_TIMESTAMP=") || first.hasPrefix("MESSAGE=") {
            format = .export
        } else {
            format = .syslog
        }
    }

    public mutating func next() -> LogRecord? {
        while true {
            switch format {
            case .json:
                guard let line = nextLine() else { return nil }
                recordNumber = linesRead
                if let record = Self.parseJSON(line) { return record }
            case .syslog:
                guard let line = nextLine() else { return nil }
                recordNumber = linesRead
                if !line.isEmpty { return Self.parseSyslog(line) }
            case .export:
                recordNumber += 1
                var fields: [String: String] = [:]
                while let line = nextLine() {
                    if line.isEmpty { break }
                    if let equals = line.firstIndex(of: UInt8(ascii: "=")) {
                        fields[String(decoding: line[..<equals], as: UTF8.self)] = String(decoding: line[(equals + 1)...], as: UTF8.self)
                    } else if let size = lines.nextBinaryFieldSize() {
                        // A binary field: NAME, then a little-endian 64-bit size, the bytes and a newline.
                        let value = lines.read(count: size)
                        fields[String(decoding: line, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
                    }
                }
                if fields.isEmpty, lines.atEnd { return nil }
                if let record = Self.record(from: fields) { return record }
            }
        }
    }

    private mutating func nextLine() -> [UInt8]? {
        linesRead += 1
        if let line = peeked {
            peeked = nil
            return line
        }
        return lines.next()
    }

    static func parseJSON(_ line: [UInt8]) -> LogRecord? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return nil }
        var fields: [String: String] = [:]
        for (key, value) in object {
            switch value {
            case let text as String: fields[key] = text
            // journalctl prints a field that is not valid UTF-8 as an array of byte values.
            case let bytes as [NSNumber]: fields[key] = String(decoding: bytes.map { $0.uint8Value }, as: UTF8.self)
            case let number as NSNumber: fields[key] = number.stringValue
            default: continue
            }
        }
        return record(from: fields)
    }

    static func record(from fields: [String: String]) -> LogRecord? {
        guard let message = fields["MESSAGE"] else { return nil }
        return LogRecord(message: message, priority: fields["PRIORITY"].flatMap { Int($0) }, unit: fields["_SYSTEMD_UNIT"],
                         identifier: fields["SYSLOG_IDENTIFIER"], pid: fields["_PID"].flatMap { Int($0) },
                         hostname: fields["_HOSTNAME"], timestampMicroseconds: fields["__REALTIME_TIMESTAMP"].flatMap { Int64($0) })
    }

    /// `Nov 25 17:36:18 host ident[pid]: message` or `2026-11-25T17:36:18+00:00 host ident[pid]: message`;
    /// anything else becomes a record with the whole line as its message. On bytes: a replay parses millions.
    static func parseSyslog(_ line: String) -> LogRecord {
        parseSyslog(Array(line.utf8))
    }

    public static func parseSyslog(_ line: [UInt8]) -> LogRecord {
        func text(_ range: Range<Int>) -> String { String(decoding: line[range], as: UTF8.self) }
        func word(from start: Int) -> Range<Int> {
            var begin = start
            while begin < line.count, line[begin] == 0x20 { begin += 1 }
            var end = begin
            while end < line.count, line[end] != 0x20 { end += 1 }
            return begin..<end
        }
        let whole = LogRecord(message: text(0..<line.count))
        var timestamp: Int64?
        let first = word(from: 0)
        var rest: Int
        if first.count >= 19, line[first.lowerBound + 4] == UInt8(ascii: "-"), line[first.lowerBound + 10] == UInt8(ascii: "T") {
            let stamp = text(first)
            guard let date = Self.plainISO.date(from: stamp) ?? Self.fractionalISO.date(from: stamp) else { return whole }
            timestamp = Int64(date.timeIntervalSince1970 * 1_000_000)
            rest = first.upperBound
        } else {
            let day = word(from: first.upperBound), time = word(from: day.upperBound)
            guard first.count == 3, (line[first.lowerBound] | 0x20) >= 97, (line[first.lowerBound] | 0x20) <= 122,
                  (1...2).contains(day.count), time.count == 8, line[time.lowerBound + 2] == UInt8(ascii: ":") else { return whole }
            rest = time.upperBound
        }
        let host = word(from: rest)
        guard !host.isEmpty else { return whole }
        rest = host.upperBound
        while rest < line.count, line[rest] == 0x20 { rest += 1 }
        var colon = rest
        while colon + 1 < line.count, !(line[colon] == UInt8(ascii: ":") && line[colon + 1] == 0x20) { colon += 1 }
        guard colon + 1 < line.count else {
            return LogRecord(message: text(rest..<line.count), hostname: text(host), timestampMicroseconds: timestamp)
        }
        var tag = rest..<colon
        var pid: Int?
        if tag.count > 2, line[tag.upperBound - 1] == UInt8(ascii: "]"), let open = line[tag].lastIndex(of: UInt8(ascii: "[")) {
            pid = Int(text((open + 1)..<(tag.upperBound - 1)))
            tag = tag.lowerBound..<open
        }
        guard !tag.isEmpty, !line[tag].contains(0x20) else {
            return LogRecord(message: text(rest..<line.count), hostname: text(host), timestampMicroseconds: timestamp)
        }
        return LogRecord(message: text((colon + 2)..<line.count), identifier: text(tag), pid: pid, hostname: text(host),
                         timestampMicroseconds: timestamp)
    }

    // Formatters are costly to make and safe to share for parsing once configured.
    nonisolated(unsafe) private static let plainISO = ISO8601DateFormatter()
    nonisolated(unsafe) private static let fractionalISO: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}

/// Lines of a file read in large blocks (a replay reads millions of them).
struct LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private(set) var atEnd = false

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        self.handle = handle
    }

    private mutating func fill() -> Bool {
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        let chunk = handle.readData(ofLength: 1 << 20)
        if chunk.isEmpty {
            atEnd = true
            return false
        }
        buffer.append(contentsOf: chunk)
        return true
    }

    mutating func next() -> [UInt8]? {
        while true {
            if let newline = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[position..<newline])
                position = newline + 1
                return line.last == UInt8(ascii: "\r") ? Array(line.dropLast()) : line
            }
            if !fill() {
                guard position < buffer.count else { return nil }
                let line = Array(buffer[position...])
                position = buffer.count
                return line
            }
        }
    }

    /// After a field name without "=": the 64-bit little-endian size that follows in the export format.
    mutating func nextBinaryFieldSize() -> Int? {
        while buffer.count - position < 8 { if !fill() { return nil } }
        var size: UInt64 = 0
        for offset in 0..<8 { size |= UInt64(buffer[position + offset]) << (8 * UInt64(offset)) }
        position += 8
        return size < (1 << 26) ? Int(size) : nil
    }

    /// `count` bytes and the newline after them.
    mutating func read(count: Int) -> [UInt8] {
        while buffer.count - position < count + 1 { if !fill() { break } }
        let end = min(buffer.count, position + count)
        let value = Array(buffer[position..<end])
        position = min(buffer.count, end + 1)
        return value
    }
}

extension LogText {
    /// Like ``clean(_:limit:)`` but keeps line breaks: tool output is read as lines.
    public static func cleanLines(_ text: String, limit: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { clean(String($0), limit: limit) }
            .joined(separator: "\n").prefix(limit).description
    }
}

extension Dictionary where Key == String, Value == String {
    /// `key=value key=value`, sorted by key: how parameters and tool arguments are shown and logged.
    public var keyValueText: String {
        sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
