import Foundation

/// Follows a log file the way `tail -F` does: new complete lines since the last read, across rotation (the
/// path now names another file: the rest of the old one is read first) and truncation (the file got shorter:
/// start again from its beginning). Its position is a ``Cursor`` the caller stores after each processed
/// batch, so a restart continues where processing — not reading — stopped.
///
/// Polled: the caller asks for new lines (the daemon every half second). Not thread-safe.
public final class FileTailer {
    /// Which file (by inode) and how far into it.
    public struct Cursor: Sendable, Equatable, CustomStringConvertible {
        public var inode: UInt64
        public var offset: Int64

        public init(inode: UInt64, offset: Int64) {
            self.inode = inode
            self.offset = offset
        }

        /// `inode=N;offset=M`, as stored.
        public init?(_ text: String) {
            var inode: UInt64?, offset: Int64?
            for part in text.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { return nil }
                if pair[0] == "inode" { inode = UInt64(pair[1]) } else if pair[0] == "offset" { offset = Int64(pair[1]) }
            }
            guard let inode, let offset, offset >= 0 else { return nil }
            self.init(inode: inode, offset: offset)
        }

        public var description: String { "inode=\(inode);offset=\(offset)" }
    }

    /// A complete line and where the file is read up to once it is consumed: a cursor stored with it resumes right
    /// after it.
    public struct Line: Sendable, Equatable {
        public let bytes: [UInt8]
        public let end: Cursor
    }

    public let path: String
    private var handle: FileHandle?
    private var inode: UInt64 = 0
    /// Bytes consumed into complete lines.
    private var offset: Int64 = 0
    private var partial: [UInt8] = []
    /// Lines longer than this are cut into pieces rather than buffered without bound.
    static let maximumLine = 64 * 1024

    /// Starts at `cursor` when it still names the file at `path`, else at the file's end (`fromStart`: its
    /// beginning) — a new source does not replay years of history.
    public init(path: String, cursor: Cursor?, fromStart: Bool = false) {
        self.path = path
        guard let (handle, identity, size) = Self.open(path) else { return }
        self.handle = handle
        inode = identity
        if let cursor, cursor.inode == identity, cursor.offset <= size {
            offset = cursor.offset
        } else {
            offset = fromStart ? 0 : size
        }
        try? handle.seek(toOffset: UInt64(offset))
    }

    /// Where the lines returned so far end.
    public var cursor: Cursor? { handle == nil ? nil : Cursor(inode: inode, offset: offset) }

    /// The complete lines written since the last call.
    public func poll() -> [Line] {
        var lines: [Line] = []
        if handle == nil {
            guard let (handle, identity, _) = Self.open(path) else { return [] }
            (self.handle, inode, offset, partial) = (handle, identity, 0, [])
        }
        read(into: &lines)
        // Rotated (another file at the path) or truncated (shorter than what was read): the old file is
        // drained above; continue with the file now at the path, from its start.
        var info = stat()
        if stat(path, &info) == 0 {
            if UInt64(info.st_ino) != inode || Int64(info.st_size) < offset + Int64(partial.count) {
                if !partial.isEmpty { lines.append(Line(bytes: partial, end: Cursor(inode: inode, offset: offset + Int64(partial.count)))) }
                handle?.closeFile()
                handle = nil
                partial = []
                if let (handle, identity, _) = Self.open(path) {
                    (self.handle, inode, offset) = (handle, identity, 0)
                    read(into: &lines)
                }
            }
        }
        return lines
    }

    private func read(into lines: inout [Line]) {
        guard let handle else { return }
        while true {
            let chunk = handle.readData(ofLength: 1 << 16)
            if chunk.isEmpty { return }
            for byte in chunk {
                if byte == UInt8(ascii: "\n") {
                    offset += Int64(partial.count + 1)
                    lines.append(Line(bytes: partial.last == UInt8(ascii: "\r") ? Array(partial.dropLast()) : partial,
                                      end: Cursor(inode: inode, offset: offset)))
                    partial.removeAll(keepingCapacity: true)
                } else {
                    partial.append(byte)
                    if partial.count >= Self.maximumLine {
                        offset += Int64(partial.count)
                        lines.append(Line(bytes: partial, end: Cursor(inode: inode, offset: offset)))
                        partial.removeAll(keepingCapacity: true)
                    }
                }
            }
        }
    }

    private static func open(_ path: String) -> (FileHandle, UInt64, Int64)? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        var info = stat()
        guard fstat(handle.fileDescriptor, &info) == 0 else { return nil }
        return (handle, UInt64(info.st_ino), Int64(info.st_size))
    }

    deinit {
        handle?.closeFile()
    }
}
