import ArgumentParser
import CommandSupport
import Fleet
import Foundation
import Logging
import SysadminConfiguration

/// `--url` and `--password-file`: the fleet's database as an operator's role.
struct FleetDatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The fleet's database as an operator's role (a member of ais_operator): postgresql://ROLE@HOST[:PORT]/DATABASE[?sslrootcert=/path/ca.pem] (TLS, certificate and name checked, unless ?sslmode= says otherwise).",
        valueName: "url"))
    var url: String?

    @Option(name: .customLong("password-file"), help: ArgumentHelp("The role's password, one line.", valueName: "file"))
    var passwordFile: String?

    var given: Bool { url != nil || passwordFile != nil }

    /// The fleet as this operator reaches it; fails naming what is missing.
    func fleetOperator(_ program: String) throws -> FleetOperator {
        guard let url, let passwordFile else {
            throw CommandSupport.fail(program, ["the fleet's database needs --url postgresql://ROLE@HOST/DATABASE and --password-file FILE"])
        }
        do {
            return try FleetOperator(configuration: PostgreSQLConfiguration(url: url, passwordFile: passwordFile), logger: Logger(label: "ai-sysadmin.fleet"))
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
    }
}

/// A proposal on this host (`12`) or on a host of the fleet (`web1/12`).
struct ProposalReference: ExpressibleByArgument, CustomStringConvertible {
    var host: String?
    var id: Int64

    init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            guard let id = Int64(parts[0]), id > 0 else { return nil }
            (host, self.id) = (nil, id)
        case 2:
            guard PostgreSQLConfiguration.isValidHostID(String(parts[0])), let id = Int64(parts[1]), id > 0 else { return nil }
            (host, self.id) = (String(parts[0]), id)
        default:
            return nil
        }
    }

    var description: String { host.map { "\($0)/\(id)" } ?? String(id) }

    static let help = "The proposal's id; HOST/ID for a host of the fleet (with --url and --password-file)."
}

extension ProposalReference {
    /// The fleet host this names, or nil for this host's store; this host's id with the fleet's options is refused.
    func fleetHost(given database: FleetDatabaseOptions, _ program: String) throws -> String? {
        if host == nil, database.given {
            throw CommandSupport.fail(program, ["--url and --password-file are for a fleet host's proposal: name it HOST/ID"])
        }
        return host
    }
}

/// `--fleet` (every host) or `--host H` (one), read from the fleet's database with `--url` and `--password-file`;
/// neither: this host's store.
struct FleetScopeOptions: ParsableArguments {
    @Flag(name: .long, help: "Every host's, from the fleet's database (with --url and --password-file).")
    var fleet = false

    @Option(name: .long, help: ArgumentHelp("One fleet host's, from the fleet's database (with --url and --password-file).", valueName: "id"))
    var host: String?

    @OptionGroup var database: FleetDatabaseOptions

    /// nil for this host's store; else the fleet as this operator reaches it, and the host to keep to (nil: every host).
    func scope(_ program: String) throws -> (fleet: FleetOperator, host: String?)? {
        guard fleet || host != nil || database.given else { return nil }
        guard !(fleet && host != nil) else { throw CommandSupport.fail(program, ["--fleet or --host, not both"]) }
        guard fleet || host != nil else {
            throw CommandSupport.fail(program, ["--url and --password-file read a fleet's database: add --fleet, or --host ID"])
        }
        if let host, !PostgreSQLConfiguration.isValidHostID(host) {
            throw CommandSupport.fail(program, ["--host '\(host.prefix(64))' is not a host id (lower-case letters, digits and _)"])
        }
        return (try database.fleetOperator(program), host)
    }

    /// `body`'s result, or the command's failure in the operator's words.
    static func reading<T>(_ program: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw CommandSupport.fail(program, [FleetOperator.describe(error)])
        }
    }
}

/// A fleet row as one JSON line: `{"host": "web1", KEY: VALUE}`.
enum FleetJSON {
    static func line(host: String, _ key: String, _ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(HostLine(host: host, key: key, value: value))) ?? Data("{}".utf8), as: UTF8.self)
    }
}

private struct HostLine<Value: Encodable>: Encodable {
    let host: String, key: String, value: Value

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(host, forKey: Key(stringValue: "host"))
        try container.encode(value, forKey: Key(stringValue: key))
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
