import ArgumentParser
import CommandSupport
import Foundation
import SysadminConfiguration
import UpstreamClient

/// Where `ask` and `chat` find the daemon's agent.
struct AgentOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (for its state directory); default /etc/ai-sysadmin/config.json when it exists.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("The agent's socket; default <stateDirectory>/agent.sock of --config.", valueName: "path"))
    var socket: String?

    /// The agent, reached over its Unix socket: the same endpoint the gateway forwards the agent model id to.
    func session(_ program: String) throws -> AgentSession {
        let configuration = try StoreOptions.configuration(file: config, program)
        let path = socket ?? configuration.agentSocketPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandSupport.fail(program, ["no agent socket at \(path): is `ai-sysadmin run` running with this state directory and chat.enable? (pass --config or --socket)"])
        }
        guard access(path, W_OK) == 0 else {
            throw CommandSupport.fail(program, ["\(path) is not writable for this user; run as root or as a member of the daemon's group (ai-sysadmin)"])
        }
        return AgentSession(client: OpenAIClient(
            endpoint: ModelEndpoint(baseURL: "http://localhost", unixSocketPath: path),
            timeouts: .init(connect: .seconds(2), total: nil, idle: .seconds(300))),
            model: configuration.api.agentModelId ?? "ai-sysadmin", program: program)
    }
}

/// One conversation with the agent: each question goes with the whole history; the reply streams to stdout,
/// the agent's tool steps to stderr.
struct AgentSession {
    let client: OpenAIClient
    let model: String
    let program: String
    var history: [ChatMessage] = []

    /// Asks `question`, prints the reply as it comes, and keeps both in the history. Returns false (with the
    /// reason printed) when the agent could not answer; the history is then left as it was.
    mutating func ask(_ question: String) async -> Bool {
        let styled = isatty(STDERR_FILENO) == 1
        var answer = ""
        var stepsShown = false
        do {
            let request = ChatCompletionRequest(model: model, messages: history + [.user(question)])
            for try await chunk in try await client.streamChatCompletion(request) {
                guard let delta = chunk.choices.first?.delta else { continue }
                if let step = delta.reasoningContent, !step.isEmpty {
                    FileHandle.standardError.write(Data((styled ? "\u{1B}[2m\(step)\u{1B}[0m" : step).utf8))
                    stepsShown = true
                }
                if let text = delta.content, !text.isEmpty {
                    if stepsShown, answer.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
                    answer += text
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            }
        } catch let error as UpstreamError {
            FileHandle.standardError.write(Data("\n\(program): \(Self.explain(error))\n".utf8))
            return false
        } catch {
            FileHandle.standardError.write(Data("\n\(program): \(error)\n".utf8))
            return false
        }
        if !answer.hasSuffix("\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
        history += [.user(question), .assistant(answer)]
        return true
    }

    /// The agent's own message where it sent one (503 while the meta model loads, 400 for a bad request, an
    /// error event mid-stream).
    static func explain(_ error: UpstreamError) -> String {
        error.serverMessage.map { "the agent answered\(error.status.map { " \($0)" } ?? ""): \($0)" } ?? error.description
    }
}

struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Ask the sysadmin one question about this host; the answer streams to stdout, its look-ups to stderr.",
        discussion: """
            The daemon's agent answers from the host's journal, metrics, units and its own records. A change you ask for \
            ("restart nginx.service") becomes a proposal for the executor; the reply ends with what became of it.
            """
    )

    @OptionGroup var options: AgentOptions

    @Argument(help: "The question (several words are joined).")
    var question: [String]

    func run() async throws {
        let text = question.joined(separator: " ").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw CommandSupport.fail("ai-sysadmin ask", ["the question is empty"]) }
        var session = try options.session("ai-sysadmin ask")
        guard await session.ask(text) else { throw ExitCode.failure }
    }
}

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk with the sysadmin: a conversation whose whole history goes with every question.",
        discussion: "Type a question and Enter. /reset starts a new conversation; /exit, /quit or Ctrl-D ends."
    )

    @OptionGroup var options: AgentOptions

    func run() async throws {
        var session = try options.session("ai-sysadmin chat")
        let interactive = isatty(STDIN_FILENO) == 1
        if interactive { print("ai-sysadmin chat — /reset for a new conversation, /exit to leave") }
        while true {
            if interactive {
                FileHandle.standardOutput.write(Data("\nyou> ".utf8))
            }
            guard let line = readLine() else { break }
            let text = line.trimmingCharacters(in: .whitespaces)
            switch text {
            case "": continue
            case "/exit", "/quit": return
            case "/reset":
                session.history = []
                print("(new conversation)")
                continue
            default:
                _ = await session.ask(text)
            }
        }
    }
}
