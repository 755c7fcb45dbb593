import SysadminConfiguration

/// An operator's rule from the configuration: a line whose message matches `pattern` gets this verdict,
/// whatever the model says — for what must never be missed (or is known to be noise at a set level).
public struct OperatorRule: @unchecked Sendable {
    // A compiled Regex is immutable; matching from several tasks is safe.
    private let regex: Regex<AnyRegexOutput>
    public let pattern: String
    public let verdict: Verdict

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(pattern: String, severity: String, category: String, escalate: Bool, summary: String) throws(Invalid) {
        guard let regex = try? Regex(pattern) else { throw Invalid(description: "'\(pattern.prefix(120))' is not a valid regular expression") }
        guard let severity = Severity(rawValue: severity) else { throw Invalid(description: "unknown severity '\(severity.prefix(40))'") }
        guard let category = Category(rawValue: category) else { throw Invalid(description: "unknown category '\(category.prefix(40))'") }
        self.regex = regex
        self.pattern = pattern
        verdict = Verdict(severity: severity, category: category, escalate: escalate, summary: LogText.clean(summary, limit: 120))
    }

    /// The rule as the configuration states it (`monitoring.rules`).
    public init(_ rule: MonitoringConfiguration.Rule) throws(Invalid) {
        try self.init(pattern: rule.pattern, severity: rule.severity, category: rule.category, escalate: rule.escalate, summary: rule.summary)
    }

    public func matches(_ message: String) -> Bool {
        (try? regex.firstMatch(in: message)) != nil
    }
}
