import ArgumentParser

@main
struct AISysadmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ai-sysadmin",
        abstract: "An autonomous system administrator that runs its language models locally on llama.cpp.",
        version: AISysadmin.version,
        subcommands: [RunCommand.self, StatusCommand.self, ConfigCommand.self, AnalysesCommand.self, ApprovalsCommand.self, AuditCommand.self, EventsCommand.self, KnowledgeCommand.self, ModelsCommand.self, ReplayCommand.self, AskCommand.self, ChatCommand.self, MCPCommand.self, FleetCommand.self, ReviewsCommand.self, ServeModelCommand.self, ModelKeyCommand.self, PolkitRuleCommand.self, SignaturesCommand.self, EvalCommand.self]
    )

    /// As nix/package.nix names it.
    static let version = "0.1.0"
}
