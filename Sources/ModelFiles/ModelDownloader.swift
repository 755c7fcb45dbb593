import Crypto
import Foundation
import Glibc
import UpstreamClient

public struct ModelDownloadError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// What a download reports while it runs.
public enum ModelDownloadEvent: Sendable {
    /// Bytes on disk so far, of `total` when known.
    case progress(bytes: Int64, total: Int64?)
    /// Something worth a line: a resume, a retry, the checksum being verified.
    case notice(String)
}

/// Downloads one catalog entry into its file: resumable (`Range:` from what an earlier attempt left in
/// `.<file>.partial`, which the next run continues), checked for free space before it starts, verified against
/// the entry's SHA-256, and renamed into place only when complete and correct — the final name never holds a
/// partial or unverified file.
public struct ModelDownloader: Sendable {
    public enum Outcome: Sendable, Equatable {
        case downloaded
        case alreadyPresent
    }

    let http: UpstreamHTTPClient
    /// Tries per run; an interrupted transfer resumes where it stopped.
    let attempts: Int
    let retryDelay: Duration

    public init(http: UpstreamHTTPClient = .shared, attempts: Int = 5, retryDelay: Duration = .seconds(2)) {
        self.http = http
        self.attempts = attempts
        self.retryDelay = retryDelay
    }

    public func pull(_ entry: ModelCatalogEntry, to destination: String,
                     onEvent: @escaping @Sendable (ModelDownloadEvent) -> Void) async throws(ModelDownloadError) -> Outcome {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination) { return .alreadyPresent }
        let directory = (destination as NSString).deletingLastPathComponent
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ModelDownloadError(message: "cannot create the model directory \(directory): \(error.localizedDescription)")
        }
        let partial = (directory as NSString).appendingPathComponent(".\((destination as NSString).lastPathComponent).partial")
        let file = try PartialFile(path: partial)
        defer { file.close() }

        var hasher = SHA256()
        var offset = file.size
        if let size = entry.size, offset > size { try file.truncate(); offset = 0 }
        try checkSpace(needed: (entry.size ?? 0) - offset, in: directory)
        if offset > 0 {
            onEvent(.notice("resuming: reading the \(ByteCount(offset)) already in \(partial)"))
            try file.hash(into: &hasher)
        }

        var attempt = 1
        transfer: while true {
            var headers: [(name: String, value: String)] = [("User-Agent", "ai-sysadmin")]
            if offset > 0 { headers.append(("Range", "bytes=\(offset)-")) }
            let request = HTTPRequest(url: entry.url, headers: headers,
                                      timeouts: .init(connect: .seconds(15), total: nil, idle: .seconds(60)), maximumRedirects: 10)
            do {
                let response = try await http.stream(request, bufferLimit: 4 * 1024 * 1024)
                var total = entry.size
                if response.status == 206, offset > 0 {
                    guard let range = ContentRange(response.header("Content-Range")), range.first == offset else {
                        throw ModelDownloadError(message: "\(entry.url) answered a range other than bytes=\(offset)-: \(response.header("Content-Range") ?? "no Content-Range")")
                    }
                    total = range.total ?? total
                } else {
                    if offset > 0 {
                        onEvent(.notice("the server does not resume downloads; starting again from the beginning"))
                        try file.truncate()
                        offset = 0
                        hasher = SHA256()
                    }
                    if let length = response.header("Content-Length").flatMap(Int64.init) { total = length }
                }
                if let expected = entry.size, let total, total != expected {
                    response.body.cancel(reason: "wrong size")
                    throw ModelDownloadError(message: "\(entry.url) offers \(total) bytes, but \(entry.name) is \(expected) bytes; the catalog or the URL is wrong")
                }
                if let total { try checkSpace(needed: total - offset, in: directory) }
                onEvent(.progress(bytes: offset, total: total))
                for try await chunk in response.body {
                    try file.append(chunk)
                    hasher.update(data: chunk)
                    offset += Int64(chunk.count)
                    onEvent(.progress(bytes: offset, total: total))
                }
                break transfer
            } catch let error as UpstreamError where error.status == 416 && offset > 0 {
                // Nothing left to send: the partial file is already complete.
                break transfer
            } catch let error as UpstreamError where error.code == .httpStatus {
                throw ModelDownloadError(message: "\(entry.url) answered \(error.status.map(String.init) ?? "an error"); \(partial) is kept")
            } catch let error as UpstreamError where error.code == .invalidRequest {
                // Trying again cannot help (a redirect to http://, a malformed URL).
                throw ModelDownloadError(message: "the download of \(entry.name) from \(entry.url) was refused: \(error.message)")
            } catch let error as UpstreamError {
                guard attempt < attempts else {
                    throw ModelDownloadError(message: "the download of \(entry.name) stopped at \(ByteCount(offset)): \(error.message); \(partial) is kept, run the same command again to resume")
                }
                onEvent(.notice("interrupted at \(ByteCount(offset)) (\(error.message)); resuming, attempt \(attempt + 1) of \(attempts)"))
                attempt += 1
                try? await Task.sleep(for: retryDelay)
            } catch let error as ModelDownloadError {
                throw error
            } catch {
                throw ModelDownloadError(message: "the download of \(entry.name) failed: \(error)")
            }
        }

        if let size = entry.size, offset != size {
            throw ModelDownloadError(message: "\(entry.url) ended after \(offset) of \(size) bytes; \(partial) is kept, run the same command again to resume")
        }
        let digest = hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        guard digest == entry.sha256 else {
            try? file.remove()
            throw ModelDownloadError(message: "checksum mismatch for \(entry.name): expected SHA-256 \(entry.sha256), got \(digest); the download was discarded")
        }
        try file.commit(as: destination)
        return .downloaded
    }

    private func checkSpace(needed: Int64, in directory: String) throws(ModelDownloadError) {
        guard needed > 0 else { return }
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return }
        let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
        if needed > free {
            throw ModelDownloadError(message: "not enough space in \(directory): the download needs \(ByteCount(needed)) more, \(ByteCount(free)) is free")
        }
    }
}

/// `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL may be `*`).
struct ContentRange {
    let first: Int64
    let total: Int64?

    init?(_ header: String?) {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let parts = header.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let dash = parts[0].firstIndex(of: "-"), let first = Int64(parts[0][..<dash]) else { return nil }
        self.first = first
        total = Int64(parts[1])
    }
}

/// Sizes for people: "1.7 GiB".
public struct ByteCount: CustomStringConvertible, Sendable {
    public let bytes: Int64
    public init(_ bytes: Int64) { self.bytes = bytes }

    public static func text(_ bytes: Int64) -> String { ByteCount(bytes).description }

    public var description: String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) bytes" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}

/// The `.partial` file a download writes, locked so two pulls of one model cannot interleave.
private final class PartialFile {
    let path: String
    private let fd: Int32

    init(path: String) throws(ModelDownloadError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ModelDownloadError(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            throw ModelDownloadError(message: "another download is writing \(path); wait for it to finish")
        }
    }

    var size: Int64 {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int64(info.st_size) : 0
    }

    func truncate() throws(ModelDownloadError) {
        guard ftruncate(fd, 0) == 0 else { throw failure("cannot truncate") }
    }

    func hash(into hasher: inout SHA256) throws(ModelDownloadError) {
        var buffer = [UInt8](repeating: 0, count: 4 * 1024 * 1024)
        var position: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, position) }
            guard count >= 0 else { throw failure("cannot read") }
            if count == 0 { return }
            hasher.update(data: buffer[..<count])
            position += off_t(count)
        }
    }

    func append(_ data: Data) throws(ModelDownloadError) {
        var failed: Int32 = 0
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    failed = errno
                    return
                }
                done += written
            }
        }
        if failed == ENOSPC || failed == EDQUOT {
            throw ModelDownloadError(message: "the disk is full while writing \(path); free some space and run the same command again to resume")
        }
        if failed != 0 { throw ModelDownloadError(message: "cannot write \(path): \(String(cString: strerror(failed)))") }
    }

    /// Flushes and renames into place, then flushes the directory, so a crash leaves either the old state or
    /// the whole verified file.
    func commit(as destination: String) throws(ModelDownloadError) {
        guard fsync(fd) == 0 else { throw failure("cannot flush") }
        guard rename(path, destination) == 0 else { throw failure("cannot rename to \(destination):") }
        let directory = open((destination as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            Glibc.close(directory)
        }
    }

    func remove() throws {
        unlink(path)
    }

    func close() {
        Glibc.close(fd)
    }

    private func failure(_ what: String) -> ModelDownloadError {
        ModelDownloadError(message: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
