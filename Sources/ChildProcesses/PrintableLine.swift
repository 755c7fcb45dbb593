/// A child's output line made safe to put in the daemon's log.
///
/// What llama-server prints can carry text that came from prompts or files, so it is treated as hostile: an
/// escape sequence could rewrite an operator's terminal, and a carriage return could forge what looks like
/// a log line of the daemon's own. Control characters (C0 except tab, DEL, C1) become `\xNN`; long lines
/// are cut.
public enum PrintableLine {
    public static let maximumLength = 4096

    public static func sanitize(_ line: String) -> String {
        var result = ""
        result.reserveCapacity(min(line.utf8.count, maximumLength))
        var count = 0
        for scalar in line.unicodeScalars {
            if count >= maximumLength {
                result += "…[cut]"
                break
            }
            let value = scalar.value
            if (value < 0x20 && value != 0x09) || value == 0x7F || (0x80...0x9F).contains(value) {
                result += "\\x" + String(value, radix: 16, uppercase: true).leftPadded(to: 2)
            } else {
                result.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return result
    }
}

private extension String {
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
