import ArgumentParser
import CommandSupport
import Foundation
import Monitoring
import SysadminConfiguration

/// `ai-sysadmin signatures`: Layer 1's built-in signatures as the configuration leaves them.
struct SignaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signatures",
        abstract: "List the built-in signatures (a floor the trigger model cannot talk a line below), as monitoring.signatures leaves them.")

    @Option(name: .long, help: ArgumentHelp("Configuration file; default /etc/ai-sysadmin/config.json when it exists.", valueName: "file"))
    var config: String?

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() throws {
        let configuration = try StoreOptions.configuration(file: config, "ai-sysadmin signatures")
        let problems = SignaturePack.problems(in: configuration.monitoring)
        guard problems.isEmpty else { throw CommandSupport.fail("ai-sysadmin signatures", problems.map(\.description)) }
        let active = Dictionary(uniqueKeysWithValues: SignaturePack(overrides: configuration.monitoring.signatures).signatures.map { ($0.id, $0) })
        struct Line: Encodable {
            let id, severity, category, why, pattern: String
            let escalate, enabled: Bool
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for builtIn in SignaturePack.builtIn.signatures {
            let signature = active[builtIn.id] ?? builtIn
            if json {
                let line = Line(id: signature.id, severity: signature.severity.rawValue, category: signature.category.rawValue, why: signature.why,
                                pattern: signature.pattern, escalate: signature.escalate, enabled: active[builtIn.id] != nil)
                print(String(decoding: try encoder.encode(line), as: UTF8.self))
            } else {
                let state = active[builtIn.id] == nil ? "off" : signature.severity.rawValue + (signature.escalate ? ", escalates" : "")
                print("\(signature.id.padding(toLength: 22, withPad: " ", startingAt: 0)) \(state.padding(toLength: 20, withPad: " ", startingAt: 0)) \(signature.why)")
            }
        }
    }
}
