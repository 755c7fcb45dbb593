import Foundation
import Synchronization

/// A PostgreSQL server of the test's own: `initdb` into a temporary directory and the server in the foreground as a
/// child of the tests (as the `postgres` user when the tests run as root, since PostgreSQL refuses to), listening on
/// 127.0.0.1 (and 127.0.0.2, which its certificate does not name) at a free port for TLS connections only (a certificate
/// for 127.0.0.1 from a certificate authority of its own), with an
/// administrator role `ais_admin` and a database `fleet`. Debian's `postgresql` package provides the programs
/// (scripts/setup installs it).
public final class PrivatePostgres: Sendable {
    public let directory: String
    public let port: Int
    public let adminPassword = "admin-password-0123456789"
    public let database = "fleet"
    let binaries: String

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The directory of PostgreSQL's server programs, newest version first, or nil when none is installed.
    public static var binaries: String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        return versions.map { "\(root)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    public init() throws {
        guard let binaries = Self.binaries else {
            throw Failure(description: "no PostgreSQL server programs under /usr/lib/postgresql; scripts/setup installs Debian's postgresql")
        }
        self.binaries = binaries
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ais-pg-\(UUID().uuidString.prefix(8))").path
        port = freePort()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try adminPassword.write(toFile: directory + "/admin-password", atomically: true, encoding: .utf8)
        if getuid() == 0 {
            for path in [directory, directory + "/admin-password"] { try Self.run("/bin/chown", ["postgres", path]) }
        }
        try runAsOwner("\(binaries)/initdb", ["-D", directory + "/data", "-U", "ais_admin", "-A", "scram-sha-256",
                                                "--pwfile=\(directory)/admin-password", "--no-sync"])
        do {
            try Self.makeCertificateAuthority(in: directory, name: "ca")
            try Self.openssl(["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", directory + "/server.key",
                              "-out", directory + "/server.csr", "-subj", "/CN=127.0.0.1"])
            try "subjectAltName=IP:127.0.0.1\n".write(toFile: directory + "/san.cnf", atomically: true, encoding: .utf8)
            try Self.openssl(["x509", "-req", "-in", directory + "/server.csr", "-CA", certificateAuthority, "-CAkey", directory + "/ca.key",
                              "-CAcreateserial", "-out", directory + "/server.pem", "-days", "2", "-extfile", directory + "/san.cnf"])
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: directory + "/server.key")
            if getuid() == 0 { try Self.run("/bin/chown", ["postgres", directory + "/server.key", directory + "/server.pem"]) }
            // TCP only with TLS: a client that does not ask for it is refused, as a fleet's database should refuse it.
            try "local all all scram-sha-256\nhostssl all all 127.0.0.0/8 scram-sha-256\n"
                .write(toFile: directory + "/data/pg_hba.conf", atomically: false, encoding: .utf8)
            try start()
            let created = psql("CREATE DATABASE \(database)", role: "ais_admin", password: adminPassword, database: "postgres", transaction: false)
            guard created.status == 0 else { throw Failure(description: "CREATE DATABASE failed: \(created.stderr)") }
        } catch {
            remove()
            throw error
        }
    }

    private let server = Mutex<Process?>(nil)

    /// Starts the server (again) in the foreground, as a child of the tests, and waits until it accepts connections.
    public func start() throws {
        let process = Process()
        (process.executableURL, process.arguments) = asOwner("\(binaries)/postgres", ["-D", directory + "/data", "-p", "\(port)", "-k", directory,
                                                                                     "-c", "listen_addresses=127.0.0.1,127.0.0.2", "-c", "fsync=off",
                                                                                     "-c", "ssl=on", "-c", "ssl_cert_file=\(directory)/server.pem",
                                                                                     "-c", "ssl_key_file=\(directory)/server.key"])
        let log = directory + "/server.log"
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        (process.standardOutput, process.standardError) = (handle, handle)
        try process.run()
        server.withLock { $0 = process }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if psql("SELECT 1", role: "ais_admin", password: adminPassword, database: "postgres").status == 0 { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw Failure(description: "the server did not accept connections: \(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").suffix(1500))")
    }

    /// Stops the server at once (SIGINT: PostgreSQL's fast shutdown cuts every connection) and waits for it.
    public func stop() throws {
        guard let process = server.withLock({ process in defer { process = nil }; return process }) else { return }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
    }

    /// Stops the server and removes its files.
    public func remove() {
        try? stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `postgresql://ROLE@127.0.0.1:PORT/fleet?sslrootcert=…`: TLS with the server's certificate and name checked.
    public func url(role: String) -> String { "postgresql://\(role)@127.0.0.1:\(port)/\(database)?sslrootcert=\(certificateAuthority)" }

    /// The certificate of the authority that signed the server's.
    public var certificateAuthority: String { directory + "/ca.pem" }

    /// A certificate authority of its own in `directory` (`NAME.pem`, `NAME.key`), valid for two days.
    public static func makeCertificateAuthority(in directory: String, name: String) throws {
        try openssl(["req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem", "-days", "2", "-subj", "/CN=ai-sysadmin test \(name)"])
    }

    private static func openssl(_ arguments: [String]) throws {
        try run("/usr/bin/openssl", arguments)
    }

    /// Runs `sql` with psql as `role` (one transaction unless `transaction` is false; stops at the first error); the
    /// exit status and what it wrote.
    public func psql(_ sql: String, role: String, password: String, database: String? = nil,
                     transaction: Bool = true) -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + (transaction ? ["-1"] : [])
            + ["-h", "127.0.0.1", "-p", "\(port)", "-U", role, "-d", database ?? self.database, "-f", "-"]
        process.environment = ["PGPASSWORD": password, "PGSSLMODE": "verify-full", "PGSSLROOTCERT": certificateAuthority, "PATH": "/usr/bin:/bin"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        (process.standardInput, process.standardOutput, process.standardError) = (input, output, errors)
        do {
            try process.run()
        } catch {
            return (-1, "", "psql did not start: \(error)")
        }
        input.fileHandleForWriting.write(Data(sql.utf8))
        try? input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile(), err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    private func runAsOwner(_ program: String, _ arguments: [String]) throws {
        let (executable, argv) = asOwner(program, arguments)
        try Self.run(executable.path, argv)
    }

    /// `program` run as the `postgres` user when the tests run as root (setpriv execs it: no process in between).
    private func asOwner(_ program: String, _ arguments: [String]) -> (URL, [String]) {
        guard getuid() == 0 else { return (URL(fileURLWithPath: program), arguments) }
        return (URL(fileURLWithPath: "/usr/bin/setpriv"), ["--reuid=postgres", "--regid=postgres", "--init-groups", program] + arguments)
    }

    private static func run(_ program: String, _ arguments: [String]) throws {
        // Into a file, not a pipe: the server pg_ctl starts keeps its parent's descriptors, and a pipe would never end.
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("ais-pg-run-\(UUID().uuidString.prefix(8))").path
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errors) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let said = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            throw Failure(description: "\(program) \(arguments.joined(separator: " ")) failed: \(said.suffix(1500))")
        }
    }
}
