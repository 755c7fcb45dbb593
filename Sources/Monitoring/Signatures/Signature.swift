import Foundation
import SysadminConfiguration

/// A failure every operator recognises, and the floor it sets: a line that matches is at least `severity`,
/// whatever the trigger model says. A class: templates and events share one instance instead of copying its
/// fields on every line.
public final class Signature: Sendable, Equatable, CustomStringConvertible {
    public let id: String
    public let pattern: String
    public let severity: Severity
    public let category: Category
    public let escalate: Bool
    /// One line on why it matters: the event's summary, and what the review reads.
    public let why: String
    /// Lines it must match: the data file's own test cases.
    public let examples: [String]
    /// The pattern looks at values masking hides (a restart counter of 5 or more): a template its keywords fit is
    /// matched line by line.
    public let perLine: Bool
    /// Lowercase substrings of which any matching line holds one: most lines are ruled out without the regex.
    let keywords: [[UInt8]]
    // A compiled Regex is immutable; matching from several tasks is safe.
    nonisolated(unsafe) let regex: Regex<AnyRegexOutput>

    public var description: String { id }

    init(id: String, pattern: String, severity: Severity, category: Category, escalate: Bool, why: String, examples: [String], perLine: Bool,
         keywords: [[UInt8]], regex: Regex<AnyRegexOutput>) {
        (self.id, self.pattern, self.severity, self.category, self.escalate, self.why) = (id, pattern, severity, category, escalate, why)
        (self.examples, self.perLine, self.keywords, self.regex) = (examples, perLine, keywords, regex)
    }

    public static func == (a: Signature, b: Signature) -> Bool {
        a.id == b.id && a.severity == b.severity && a.escalate == b.escalate
    }

    func matches(_ message: String, lowercased: [UInt8]) -> Bool {
        guard keywords.contains(where: { lowercased.contains(sequence: $0) }) else { return false }
        return (try? regex.firstMatch(in: message)) != nil
    }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs in these bytes.
    func contains(sequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= count else { return false }
        let first = needle[0]
        var index = 0
        let last = count - needle.count
        while index <= last {
            if self[index] == first, self[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
