import Foundation
import SysadminConfiguration

/// The built-in signatures (`Signatures/signatures.json`, embedded at build time) with the operator's overrides
/// (`monitoring.signatures`: switch one off, or change its floor or whether it escalates).
public struct SignaturePack: Sendable {
    public let signatures: [Signature]

    private struct File: Decodable {
        struct Entry: Decodable {
            let id: String
            let pattern: String
            let keywords: [String]
            let severity: Severity
            let category: Category
            let escalate: Bool
            let why: String
            let examples: [String]
            let perLine: Bool?
        }
        let signatures: [Entry]
    }

    /// Every built-in signature, as shipped.
    public static let builtIn: SignaturePack = {
        // The file is part of the binary; a malformed one is a build defect the unit tests catch.
        let file = try! JSONDecoder().decode(File.self, from: Data(PackageResources.signatures_json))
        return SignaturePack(signatures: file.signatures.map { entry in
            Signature(id: entry.id, pattern: entry.pattern, severity: entry.severity, category: entry.category, escalate: entry.escalate,
                      why: entry.why, examples: entry.examples, perLine: entry.perLine ?? false, keywords: entry.keywords.map { Array($0.lowercased().utf8) },
                      regex: try! Regex(entry.pattern).ignoresCase())
        })
    }()

    init(signatures: [Signature]) {
        self.signatures = signatures
    }

    /// The built-in pack as `overrides` (by id) change it. Unknown ids and severities are `problems(in:)`.
    public init(overrides: [String: MonitoringConfiguration.SignatureOverride]) {
        signatures = Self.builtIn.signatures.compactMap { signature in
            guard let override = overrides[signature.id] else { return signature }
            guard override.enable else { return nil }
            return Signature(id: signature.id, pattern: signature.pattern,
                             severity: override.severity.flatMap(Severity.init(rawValue:)) ?? signature.severity, category: signature.category,
                             escalate: override.escalate ?? signature.escalate, why: signature.why, examples: signature.examples,
                             perLine: signature.perLine, keywords: signature.keywords, regex: signature.regex)
        }
    }

    /// What is wrong with `monitoring.signatures`: ids no built-in signature has.
    public static func problems(in monitoring: MonitoringConfiguration) -> [ConfigurationValidator.Issue] {
        let known = Set(builtIn.signatures.map(\.id))
        return monitoring.signatures.keys.sorted().filter { !known.contains($0) }.map { id in
            ConfigurationValidator.Issue(keyPath: "monitoring.signatures.\(LogText.clean(id, limit: 64))",
                                         message: "no built-in signature has this id; the ids are \(known.sorted().joined(separator: ", "))",
                                         layer: nil)
        }
    }

    /// Whether a signature that looks at values (`perLine`) could match lines of this template.
    func looksAtValues(_ template: String) -> Bool {
        let valueSignatures = signatures.filter(\.perLine)
        guard !valueSignatures.isEmpty else { return false }
        let lowercased = Array(template.lowercased().utf8)
        return valueSignatures.contains { signature in signature.keywords.contains { lowercased.contains(sequence: $0) } }
    }

    /// The gravest signature `message` matches (the first of equals, in the pack's order), if any.
    public func match(_ message: String) -> Signature? {
        let lowercased = Array(message.lowercased().utf8)
        var best: Signature?
        for signature in signatures where signature.matches(message, lowercased: lowercased) {
            if best.map({ signature.severity > $0.severity }) ?? true { best = signature }
        }
        return best
    }
}
