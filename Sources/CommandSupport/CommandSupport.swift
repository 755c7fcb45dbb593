import ArgumentParser
import FoundationEssentials
import Glibc
import Logging

/// What both executables do the same way before their services start. Only executables link this module:
/// bootstrapping logging is theirs alone.
public enum CommandSupport {
    /// Sends every log line at `level` or above to standard error (journald picks it up under systemd).
    public static func bootstrapLogging(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Replaces this process with `argv[0]` (an absolute path) and `environment` (`NAME=value` entries);
    /// returns only if that failed, with the reason.
    public static func exec(_ argv: [String], environment: [String]) -> String {
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup($0) } + [nil]
        defer { (arguments + variables).forEach { free($0) } }
        // A signal mask and ignored signals survive execve: whatever blocked or ignored SIGTERM here must not
        // do so in the program that replaces it.
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        for number in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { _ = signal(number, SIG_DFL) }
        execve(argv[0], arguments, variables)
        return String(cString: strerror(errno))
    }

    /// Prints `problems` as `program: problem` lines on standard error and exits with status 1.
    public static func fail(_ program: String, _ problems: [String]) -> ExitCode {
        for problem in problems {
            let line = Array("\(program): \(problem)\n".utf8)
            _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
        return ExitCode(1)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
