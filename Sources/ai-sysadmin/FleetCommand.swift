import ArgumentParser
import CommandSupport
import Fleet
import Foundation

/// `ai-sysadmin fleet`: the fleet's PostgreSQL database — the SQL an administrator applies, and what the hosts
/// published.
struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "A fleet's PostgreSQL database: its schema and roles, and every host's state.",
        subcommands: [Status.self, Schema.self, Role.self],
        defaultSubcommand: Status.self)

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every host: its last heartbeat (and how long it has been silent), its models' states, what waits for approval, escalations in 24 h.")

        @OptionGroup var database: FleetDatabaseOptions

        @Option(name: .long, help: "Seconds without a heartbeat after which a host counts as silent.")
        var silentAfter = 120.0

        @Flag(help: "One JSON object per host, one per line.")
        var json = false

        func run() async throws {
            let program = "ai-sysadmin fleet status"
            let fleet = try database.fleetOperator(program)
            let hosts: [FleetOperator.Host]
            do {
                hosts = try await fleet.hosts()
            } catch {
                throw CommandSupport.fail(program, [FleetOperator.describe(error)])
            }
            if json {
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .iso8601
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                for host in hosts { print(String(decoding: try encoder.encode(host), as: UTF8.self)) }
                return
            }
            if hosts.isEmpty {
                print("no host has published yet")
                return
            }
            let now = Date()
            let rows = hosts.map { host -> [String] in
                let silence = now.timeIntervalSince(host.heartbeatAt)
                let heard = silence > silentAfter ? "silent since \(ISO8601DateFormatter().string(from: host.heartbeatAt))" : "\(Int(silence)) s ago"
                let heartbeat = host.heartbeat.object
                let models = ((heartbeat["status"] as? [String: Any])?["models"] as? [[String: Any]] ?? [])
                    .map { "\($0["layer"] as? String ?? "?") \($0["state"] as? String ?? "?")" }.joined(separator: ", ")
                // A host's heartbeat is its own word: cleaned before it reaches the terminal.
                return [host.id, heard, FleetOperator.text(heartbeat["autonomyLevel"] as? String ?? "-", 32), models.isEmpty ? "-" : FleetOperator.text(models, 300),
                        String(host.pendingApprovals), String(host.escalationsLastDay)]
            }
            let header = ["HOST", "LAST HEARTBEAT", "AUTONOMY", "MODELS", "WAITING", "ESCALATIONS 24H"]
            for line in TextTable.lines(header: header, rows: rows) { print(line) }
        }
    }

    struct Schema: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the SQL that creates (or brings up to date) the fleet's tables, row-level security and group roles.",
            discussion: "Apply it as the database's owner: ai-sysadmin fleet schema | psql -v ON_ERROR_STOP=1 -d aisysadmin")

        func run() throws {
            for statement in FleetSchema.statements { print(statement + ";") }
        }
    }

    struct Role: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the SQL that creates a host's role (ais_host_ID) or an operator's; set its password with psql's \\password.",
            discussion: """
                ai-sysadmin fleet role host web1 | psql -v ON_ERROR_STOP=1 -d aisysadmin
                psql -d aisysadmin -c '\\password ais_host_web1'    (psql sends only a SCRAM verifier: the password is in no statement)
                """)

        enum Kind: String, ExpressibleByArgument { case host, `operator` }

        @Argument(help: "host or operator.")
        var kind: Kind

        @Argument(help: "The host's id, or the operator's role name: lower-case letters, digits and _, at most 40 (an operator's not beginning with ais_ or pg_).")
        var name: String

        func run() throws {
            do {
                print((kind == .host ? try FleetSchema.createHost(name) : try FleetSchema.createOperator(name)) + ";")
            } catch {
                throw CommandSupport.fail("ai-sysadmin fleet role", ["\(error)"])
            }
        }
    }
}
