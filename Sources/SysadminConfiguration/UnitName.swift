import FoundationEssentials

/// systemd's unit-name rules (systemd.unit(5)): a prefix of `[A-Za-z0-9:_.\-\\@]`, a known type suffix, at
/// most 255 bytes.
public enum UnitName {
    static let suffixes = [".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target", ".path",
                           ".timer", ".slice", ".scope"]

    public static func isValid(_ name: String) -> Bool {
        guard name.utf8.count <= 255, let suffix = suffixes.first(where: { name.hasSuffix($0) }) else { return false }
        let prefix = name.dropLast(suffix.count)
        // One optional "@instance"; no leading "-", "@" or "." (systemd would take those for options or hidden
        // files, and a model's string has no business there).
        guard !prefix.isEmpty, !prefix.hasPrefix("-"), !prefix.hasPrefix("@"), !prefix.hasPrefix("."),
              prefix.filter({ $0 == "@" }).count <= 1 else { return false }
        return prefix.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || ":_.-\\@".unicodeScalars.contains(scalar)
        }
    }

    /// A unit name in which `*` may stand for any run of characters (`sshd@*.service`, `systemd-*.service`): valid
    /// when it ends in a type suffix and reading each `*` as a letter gives a valid name.
    public static func isValidPattern(_ pattern: String) -> Bool {
        isValid(pattern.replacing("*", with: "x"))
    }
}
