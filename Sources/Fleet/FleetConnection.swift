import Foundation
import Logging
import NIOSSL
import PostgresNIO
import SysadminConfiguration

/// How a host or an operator reaches the fleet's database, and how its errors are told.
enum FleetConnection {
    /// The URL's parts, its TLS mode and the password file's line; `passwordKey` names the setting (or option) a
    /// problem with the file is told against. Certificates are read here, so a missing one stops the start.
    static func configuration(_ configuration: PostgreSQLConfiguration, passwordKey: String) throws(ConfigurationError) -> PostgresConnection.Configuration {
        let address = try configuration.address.get()
        let password: String
        do {
            password = try String(contentsOfFile: configuration.passwordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw ConfigurationError(keyPath: passwordKey, "cannot read \(configuration.passwordFile): \(error)")
        }
        var connection = PostgresConnection.Configuration(host: address.host, port: address.port, username: address.role,
                                                          password: password, database: address.database, tls: try tls(address.tls))
        connection.options.connectTimeout = .seconds(5)
        // A statement, a lock or an open transaction that outlives these is the database being away, not this host.
        connection.options.additionalStartupParameters = [
            ("statement_timeout", "10s"), ("lock_timeout", "5s"), ("idle_in_transaction_session_timeout", "15s"),
        ]
        return connection
    }

    private static func tls(_ mode: PostgreSQLConfiguration.TLSMode) throws(ConfigurationError) -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        let roots: String?
        switch mode {
        case .disable:
            return .disable
        case .require:
            (tls.certificateVerification, roots) = (.none, nil)
        case .verifyCA(let file):
            (tls.certificateVerification, roots) = (.noHostnameVerification, file)
        case .verifyFull(let file):
            (tls.certificateVerification, roots) = (.fullVerification, file)
        }
        if let roots { tls.trustRoots = .file(roots) }
        do {
            return .require(try NIOSSLContext(configuration: tls))
        } catch {
            throw ConfigurationError(keyPath: "store.postgresql.url", "sslrootcert \(roots ?? "(the system's)"): \(error)")
        }
    }

    /// `body` on a connection of its own, closed afterwards whatever happens — also when the task is cancelled (a
    /// deadline passed), which is what stops a query that is still running.
    static func with<T: Sendable>(_ configuration: PostgresConnection.Configuration, id: Int, logger: Logger,
                                  isolation: isolated (any Actor)? = #isolation,
                                  _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
        return try await withTaskCancellationHandler {
            do {
                let result = try await body(connection)
                try? await connection.close()
                return result
            } catch {
                try? await connection.close()
                throw error
            }
        } onCancel: {
            connection.close().whenComplete { _ in }
        }
    }

    /// The server's own words when it gave any (its message and SQLSTATE), else the error.
    static func describe(_ error: any Error) -> String {
        if let failure = error as? PSQLError, let message = failure.serverInfo?[.message] {
            return "\(message) (SQLSTATE \(failure.serverInfo?[.sqlState] ?? "?"))"
        }
        if let failure = error as? PostgresTransactionError {
            return describe(failure.closureError ?? failure.beginError ?? failure.commitError ?? failure)
        }
        if let failure = error as? PSQLError {
            let said = "\(failure.code)\(failure.underlying.map { ": \($0)" } ?? "")".prefix(300)
            switch failure.underlying {
            case let tls as NIOSSLExtraError where tls == .failedToValidateHostname:
                return "the server's certificate is not for the host the URL names (sslmode=verify-full checks it): \(said)"
            case is NIOSSLError:
                return "TLS failed; is the server's certificate from the authority in sslrootcert (else the system's)? \(said)"
            default:
                return String(said)
            }
        }
        return String(String(describing: error).prefix(300))
    }
}

/// `work`'s result, or a timeout error when it takes longer than `limit` (it is cancelled then).
func withTimeout<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else { throw FleetTimeout(limit: limit) }
        return result
    }
}

struct FleetTimeout: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "no answer within \(limit)" }
}
