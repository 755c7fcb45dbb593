import ArgumentParser
import CommandSupport
import Foundation
import Synchronization
import SysadminConfiguration
import UpstreamClient

/// `ai-sysadmin mcp`: the daemon's MCP server over stdio, for clients that start a command (Claude Desktop, editors)
/// or reach the host over ssh (`ssh host ai-sysadmin mcp`). Each JSON-RPC message read from stdin, one per line, goes
/// to the daemon's `/mcp` on its socket, each in its own request, so a long `ask` does not hold up a `ping`; each
/// answer is written to stdout as one line. `notifications/cancelled` cancels the request it names (its connection is
/// closed, which stops its work in the daemon). Nothing else is ever written to stdout (it is the protocol's
/// channel); problems go to stderr.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Speak MCP over stdio with the running daemon (needs mcp.enable, and the daemon's socket: root or its group).",
        discussion: "Add it to a client as a command: `ai-sysadmin mcp`, or `ssh HOST ai-sysadmin mcp` for a remote host.")

    @OptionGroup var agent: AgentOptions

    /// The longest message relayed either way.
    static let messageLimit = 1024 * 1024
    static let program = "ai-sysadmin mcp"

    func run() async throws {
        let configuration = try StoreOptions.configuration(file: agent.config, Self.program)
        let path = agent.socket ?? configuration.agentSocketPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandSupport.fail(Self.program, ["no daemon socket at \(path): is `ai-sysadmin run` running with this state directory? (pass --config or --socket)"])
        }
        guard access(path, W_OK) == 0 else {
            throw CommandSupport.fail(Self.program, ["\(path) is not writable for this user; run as root or as a member of the daemon's group (ai-sysadmin)"])
        }
        let inFlight = InFlight()
        await withTaskGroup(of: Void.self) { group in
            for await line in Self.standardInputLines() {
                guard line.utf8.count <= Self.messageLimit else {
                    // Not parsed, so there is no id to answer: say it where a person looks.
                    FileHandle.standardError.write(Data("\(Self.program): dropped a message longer than \(Self.messageLimit) bytes\n".utf8))
                    continue
                }
                let message = line.trimmingCharacters(in: .whitespaces)
                guard !message.isEmpty else { continue }
                let fields = Self.fields(message)
                if fields.method == "notifications/cancelled" {
                    if let id = fields.cancelledID { inFlight.cancel(id) }
                    continue
                }
                let key = fields.id ?? UUID().uuidString
                let id = fields.id
                let relay = Task { await Self.relay(message, id: id, socket: path) }
                inFlight.add(key, relay)
                group.addTask {
                    await relay.value
                    inFlight.remove(key)
                }
            }
            // The client closed stdin: nobody reads the answers any more.
            inFlight.cancelAll()
        }
    }

    /// One message to the daemon and its answer to stdout.
    static func relay(_ message: String, id: String?, socket: String) async {
        let request = UpstreamClient.HTTPRequest(
            method: .post, url: "http://localhost/mcp",
            headers: [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")],
            body: Data(message.utf8), timeouts: .init(connect: .seconds(2), total: nil, idle: .seconds(600)), unixSocketPath: socket)
        do {
            let response = try await UpstreamHTTPClient.shared.execute(request, maximumBodyBytes: messageLimit)
            switch response.status {
            case 202: return
            case 200: reply(response.body)
            case 404:
                FileHandle.standardError.write(Data("\(program): the daemon does not serve MCP; set mcp.enable and restart it\n".utf8))
                reply(error(id: id, code: -32601, "the daemon does not serve MCP (mcp.enable is off)"))
            default:
                // The transport's own refusal is a JSON-RPC error without the request's id; the client needs the id.
                let text = (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any])
                    .flatMap { ($0["error"] as? [String: Any])?["message"] as? String } ?? "HTTP \(response.status)"
                reply(error(id: id, code: -32600, text))
            }
        } catch let failure as UpstreamError where failure.code == .cancelled {
            return
        } catch {
            FileHandle.standardError.write(Data("\(program): the daemon did not answer: \(error)\n".utf8))
            reply(self.error(id: id, code: -32603, "the daemon did not answer: \(error)"))
        }
    }

    /// Lines of stdin, read on a thread of their own (a blocking read must not hold a thread of the cooperative pool).
    static func standardInputLines() -> AsyncStream<String> {
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        Thread {
            while let line = readLine(strippingNewline: true) { continuation.yield(line) }
            continuation.finish()
        }.start()
        return lines
    }

    /// What the relay needs of a message: its id as JSON (`7`, `"a"`), its method, and for a cancellation the id it
    /// cancels, as JSON too.
    static func fields(_ message: String) -> (id: String?, method: String?, cancelledID: String?) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(message.utf8)) as? [String: Any] else { return (nil, nil, nil) }
        func json(_ value: Any?) -> String? {
            guard let value, value is String || value is NSNumber,
                  let data = try? JSONSerialization.data(withJSONObject: [value]) else { return nil }
            return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
        }
        return (json(object["id"]), object["method"] as? String, json((object["params"] as? [String: Any])?["requestId"]))
    }

    /// A JSON-RPC error answer to request `id` (JSON); nil for a notification, which gets none.
    static func error(id: String?, code: Int, _ message: String) -> Data? {
        guard let id else { return nil }
        let text = String(decoding: (try? JSONEncoder().encode(message)) ?? Data(#""""#.utf8), as: UTF8.self)
        return Data(#"{"jsonrpc":"2.0","id":\#(id),"error":{"code":\#(code),"message":\#(text)}}"#.utf8)
    }

    /// The requests being relayed, by id, so a cancellation can find its request.
    final class InFlight: Sendable {
        private let tasks = Mutex<[String: Task<Void, Never>]>([:])

        func add(_ id: String, _ task: Task<Void, Never>) { tasks.withLock { $0[id] = task } }
        func remove(_ id: String) { _ = tasks.withLock { $0.removeValue(forKey: id) } }
        func cancel(_ id: String) { tasks.withLock { $0[id] }?.cancel() }
        func cancelAll() { for task in tasks.withLock({ Array($0.values) }) { task.cancel() } }
    }

    private static let output = Mutex(())

    /// One message on stdout, on one line, never interleaved with another.
    static func reply(_ data: Data?) {
        guard var data, !data.isEmpty else { return }
        data.removeAll { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
        data.append(UInt8(ascii: "\n"))
        output.withLock { _ in FileHandle.standardOutput.write(data) }
    }
}
