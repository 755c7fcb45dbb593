import FoundationEssentials
import Glibc

// What the code shared with the gateway took from Foundation's NSString and FoundationEssentials lacks. The
// gateway links FoundationEssentials only: all of Foundation (with ICU) would be about a fifth of its memory
// (benchmarks/README.md).

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (the blanks of a header value or of a line in a key file).
    package func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// File paths joined and split as NSString did for the paths built from configuration (a directory and a name). No
/// normalisation: `a//b` and `..` stay as written.
package enum FilePaths {
    /// `directory/name`, with one slash between them whatever `directory` ends with.
    package static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        var base = Substring(directory)
        while base.count > 1, base.hasSuffix("/") { base = base.dropLast() }
        return base == "/" ? "/" + name : base + "/" + name
    }

    /// The directory of `path`: `/a/b` → `/a`, `/a` → `/`, `a` → the empty string.
    package static func directory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }
}

/// What went wrong with a file, in the system's words (`No such file or directory`), from the error
/// FoundationEssentials throws when reading or writing one.
package func fileProblem(_ error: any Error) -> String {
    if let error = error as? CocoaError, let posix = error.underlying as? POSIXError {
        return String(cString: strerror(posix.code.rawValue))
    }
    if let error = error as? POSIXError { return String(cString: strerror(error.code.rawValue)) }
    return "\(error)"
}
