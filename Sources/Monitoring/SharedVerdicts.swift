/// Verdicts that other hosts' trigger models gave for the same template text (a fleet's, with the same model), asked
/// before this host's model so that a fleet of similar hosts asks once per kind of line rather than once per host.
/// Whatever it returns is another model's answer, as untrusted as this host's own: the caller validates it the same
/// way, and signatures stay floors under it.
public protocol SharedVerdicts: Sendable {
    /// The verdicts known for these template texts, by text; what it cannot say (the fleet's database away) it leaves
    /// out, and those templates go to this host's model.
    func verdicts(for templates: [String]) async -> [String: Verdict]
    /// Tells the other hosts what this host's model said.
    func share(_ verdicts: [String: Verdict]) async
}
