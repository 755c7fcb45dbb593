import ArgumentParser
import Autonomy
import Foundation
import SysadminConfiguration

struct PolkitRuleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "polkit-rule",
        abstract: "Print the polkit rule that lets the daemon's user do exactly what the executor may do.",
        discussion: """
            The rule allows the model units' restarts and, unless autonomyLevel is observe, start, stop, restart, \
            reload and reset-failed of services that are not protected: the built-in list, autonomy.protectedUnits \
            and the daemon's own unit. Every other request of that user to systemd's manager is refused. It is \
            generated from the same unit policy the executor enforces; install it as \
            /etc/polkit-1/rules.d/50-ai-sysadmin.rules (scripts/install does). The NixOS module writes the same rule.
            """)

    @Option(name: .long, help: ArgumentHelp("Configuration file; default /etc/ai-sysadmin/config.json when it exists.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: "The user the daemon runs as.")
    var user = "ai-sysadmin"

    @Option(name: .customLong("ai-name"), help: "The daemon's unit is <ai-name>-ai.service; it is protected too.")
    var aiName = "ai-sysadmin"

    func run() throws {
        let configuration = try StoreOptions.configuration(file: config, "polkit-rule")
        let policy = UnitPolicy.builtIn.protecting(configuration.autonomy.protectedUnits + ["\(aiName)-ai.service"])
        print(policy.polkitRule(user: user, executor: configuration.autonomyLevel != .observe), terminator: "")
    }
}
