import ArgumentParser
import CommandSupport
import Fleet
import Logging
import SysadminConfiguration

/// `--url` and `--password-file`: the fleet's database as an operator's role.
struct FleetDatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The fleet's database as an operator's role (a member of ais_operator): postgresql://ROLE@HOST[:PORT]/DATABASE.",
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
