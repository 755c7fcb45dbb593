import ArgumentParser
import Foundation
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

    /// Prints `problems` as `program: problem` lines on standard error and exits with status 1.
    public static func fail(_ program: String, _ problems: [String]) -> ExitCode {
        for problem in problems { FileHandle.standardError.write(Data("\(program): \(problem)\n".utf8)) }
        return ExitCode(1)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
