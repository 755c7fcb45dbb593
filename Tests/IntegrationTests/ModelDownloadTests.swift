import Crypto
import Foundation
import ModelFiles
import Synchronization
import TestSupport
import Testing

extension IntegrationTests {
    /// `ai-sysadmin models pull` against a real HTTP server (`Tests/Support/model-file-server.py`) that can
    /// hang up mid-file or ignore `Range:`.
    @Suite struct ModelDownloadTests {
        /// A 3 MiB file of random bytes and its SHA-256.
        private static func sampleFile(in directory: String) throws -> (path: String, bytes: Data, sha256: String) {
            let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
            let bytes = try #require(try random.read(upToCount: 3 * 1024 * 1024))
            let path = directory + "/source.gguf"
            try bytes.write(to: URL(fileURLWithPath: path))
            let digest = SHA256.hash(data: bytes).map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            return (path, bytes, digest)
        }

        private struct Server {
            let process: Process
            let lines: LineCollector
            let url: String

            var requests: [String] { lines.all.filter { $0.hasPrefix("GET ") } }

            func stop() {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        private func serve(_ file: String, _ options: [String] = []) async throws -> Server {
            let python = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_PYTHON"],
                                      "AI_SYSADMIN_TEST_PYTHON is not set; run the tests through scripts/test")
            let port = freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [TestEnvironment.supportFile("model-file-server.py"), "\(port)", file] + options
            let output = Pipe()
            process.standardOutput = output
            let lines = LineCollector()
            lines.attach(to: output)
            try process.run()
            try #require(await eventually(timeout: .seconds(10)) { lines.all.contains("listening") }, "the file server did not start")
            return Server(process: process, lines: lines, url: "http://127.0.0.1:\(port)/model.gguf")
        }

        private let downloader = ModelDownloader(attempts: 3, retryDelay: .milliseconds(10))
        private let ignore: @Sendable (ModelDownloadEvent) -> Void = { _ in }

        @Test func anInterruptedTransferResumesWithARangeRequest() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl")
            let sample = try Self.sampleFile(in: directory)
            let server = try await serve(sample.path, ["--cut-first", "1048576"])
            defer { server.stop() }
            let entry = ModelCatalogEntry(name: "test:model", url: server.url, sha256: sample.sha256, size: Int64(sample.bytes.count), summary: "")
            let notices = Mutex<[String]>([])
            let destination = directory + "/models/test-model.gguf"
            let outcome = try await downloader.pull(entry, to: destination) { event in
                if case .notice(let text) = event { notices.withLock { $0.append(text) } }
            }
            #expect(outcome == .downloaded)
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination)) == sample.bytes)
            let requests = server.requests
            try #require(requests.count == 2, "\(requests)")
            #expect(requests[0] == "GET -")
            let resumedAt = Int(requests[1].dropFirst("GET bytes=".count).dropLast()) ?? 0
            #expect(resumedAt > 0 && resumedAt <= 1_048_576, "the second request did not resume: \(requests[1])")
            #expect(notices.withLock { $0 }.contains { $0.contains("interrupted") })
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/models") == ["test-model.gguf"])
        }

        /// Downloads follow redirects (Hugging Face sends them to its CDN), but to https:// only: a redirect to
        /// plain http is refused, the target is never asked, and nothing is saved.
        @Test func aRedirectToPlainHTTPIsRefused() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl-redirect")
            let sample = try Self.sampleFile(in: directory)
            let target = try await serve(sample.path)
            defer { target.stop() }
            let redirecting = try await serve(sample.path, ["--redirect-to", target.url])
            defer { redirecting.stop() }
            let entry = ModelCatalogEntry(name: "test:model", url: redirecting.url, sha256: sample.sha256, size: Int64(sample.bytes.count), summary: "")
            let destination = directory + "/models/test-model.gguf"
            await #expect {
                try await downloader.pull(entry, to: destination, onEvent: ignore)
            } throws: { error in
                "\(error)".contains("redirects are followed to https:// only")
            }
            #expect(redirecting.requests.count == 1, "a refused redirect is not tried again")
            #expect(target.requests.isEmpty, "the http:// redirect target was fetched")
            #expect(!FileManager.default.fileExists(atPath: destination))
        }

        @Test func aPartialFileFromAnEarlierRunIsContinued() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl")
            let sample = try Self.sampleFile(in: directory)
            let server = try await serve(sample.path)
            defer { server.stop() }
            try FileManager.default.createDirectory(atPath: directory + "/models", withIntermediateDirectories: true)
            try sample.bytes.prefix(1_000_000).write(to: URL(fileURLWithPath: directory + "/models/.test-model.gguf.partial"))
            let entry = ModelCatalogEntry(name: "test:model", url: server.url, sha256: sample.sha256, size: Int64(sample.bytes.count), summary: "")
            let destination = directory + "/models/test-model.gguf"
            #expect(try await downloader.pull(entry, to: destination, onEvent: ignore) == .downloaded)
            #expect(server.requests == ["GET bytes=1000000-"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination)) == sample.bytes)
        }

        @Test func aServerThatIgnoresRangeIsDownloadedFromTheStart() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl")
            let sample = try Self.sampleFile(in: directory)
            let server = try await serve(sample.path, ["--no-range"])
            defer { server.stop() }
            try FileManager.default.createDirectory(atPath: directory + "/models", withIntermediateDirectories: true)
            try Data(repeating: 0xAB, count: 5000).write(to: URL(fileURLWithPath: directory + "/models/.test-model.gguf.partial"))
            let entry = ModelCatalogEntry(name: "test:model", url: server.url, sha256: sample.sha256, size: Int64(sample.bytes.count), summary: "")
            let destination = directory + "/models/test-model.gguf"
            #expect(try await downloader.pull(entry, to: destination, onEvent: ignore) == .downloaded)
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination)) == sample.bytes)
        }

        @Test func aCompletePartialFileIsVerifiedWithoutDownloadingAgain() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl")
            let sample = try Self.sampleFile(in: directory)
            let server = try await serve(sample.path)
            defer { server.stop() }
            try FileManager.default.createDirectory(atPath: directory + "/models", withIntermediateDirectories: true)
            try sample.bytes.write(to: URL(fileURLWithPath: directory + "/models/.test-model.gguf.partial"))
            let entry = ModelCatalogEntry(name: "test:model", url: server.url, sha256: sample.sha256, size: nil, summary: "")
            let destination = directory + "/models/test-model.gguf"
            #expect(try await downloader.pull(entry, to: destination, onEvent: ignore) == .downloaded)
            #expect(server.requests == ["GET bytes=\(sample.bytes.count)-"], "expected one range request answered 416")
            #expect(try Data(contentsOf: URL(fileURLWithPath: destination)) == sample.bytes)
        }

        @Test func aWrongChecksumDiscardsTheDownloadAndLeavesNoFile() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl")
            let sample = try Self.sampleFile(in: directory)
            let server = try await serve(sample.path)
            defer { server.stop() }
            let entry = ModelCatalogEntry(name: "test:model", url: server.url, sha256: String(repeating: "0", count: 64),
                                          size: Int64(sample.bytes.count), summary: "")
            let destination = directory + "/models/test-model.gguf"
            await #expect {
                try await downloader.pull(entry, to: destination, onEvent: ignore)
            } throws: { error in
                "\(error)".contains("checksum mismatch for test:model") && "\(error)".contains(sample.sha256)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/models").isEmpty,
                    "a file was left behind after a failed checksum")
        }

        @Test func notEnoughSpaceIsRefusedBeforeAnyByteIsFetched() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl")
            let sample = try Self.sampleFile(in: directory)
            let server = try await serve(sample.path)
            defer { server.stop() }
            let entry = ModelCatalogEntry(name: "test:huge", url: server.url, sha256: sample.sha256, size: 1 << 60, summary: "")
            await #expect {
                try await downloader.pull(entry, to: directory + "/models/test-huge.gguf", onEvent: ignore)
            } throws: { error in
                "\(error)".contains("not enough space in \(directory)/models")
            }
            #expect(server.requests.isEmpty)
        }

        /// A full disk met while writing (the size was unknown, so nothing could be checked beforehand): a
        /// 1 MiB tmpfs as the model directory.
        @Test(.enabled(if: SmallFileSystem.canMount, "mounting a tmpfs needs CAP_SYS_ADMIN"))
        func aFullDiskStopsTheDownloadWithAClearErrorAndKeepsThePartialFile() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl")
            let sample = try Self.sampleFile(in: directory)
            let server = try await serve(sample.path, ["--no-length"])
            defer { server.stop() }
            let models = directory + "/models"
            let small = try SmallFileSystem(at: models, size: "1m")
            defer { small.unmount() }
            let entry = ModelCatalogEntry(name: "test:model", url: server.url, sha256: sample.sha256, size: nil, summary: "")
            await #expect {
                try await downloader.pull(entry, to: models + "/test-model.gguf", onEvent: ignore)
            } throws: { error in
                "\(error)".contains("the disk is full while writing \(models)/.test-model.gguf.partial")
            }
            #expect(!FileManager.default.fileExists(atPath: models + "/test-model.gguf"))
            #expect(FileManager.default.fileExists(atPath: models + "/.test-model.gguf.partial"), "the partial file was not kept for a resume")
        }

        @Test func theCommandPullsByNameAndSaysWhatItDid() async throws {
            let directory = try TestEnvironment.temporaryDirectory("dl")
            let sample = try Self.sampleFile(in: directory)
            let server = try await serve(sample.path)
            defer { server.stop() }
            let catalog = directory + "/catalog.json"
            try #"{"test:model": {"url": "\#(server.url)", "sha256": "\#(sample.sha256)", "size": \#(sample.bytes.count)}}"#
                .write(toFile: catalog, atomically: true, encoding: .utf8)
            let daemon = try TestEnvironment.daemonExecutable()
            let models = directory + "/models"
            let pulled = try TestEnvironment.runToCompletion(daemon, ["models", "pull", "test:model", "--catalog", catalog, "--model-dir", models])
            #expect(pulled.status == 0, "\(pulled.stderr)")
            #expect(pulled.stdout.contains("\(models)/test-model.gguf: test:model, SHA-256 verified"))
            #expect(pulled.stderr.contains("100%"), "no progress was shown: \(pulled.stderr)")
            let again = try TestEnvironment.runToCompletion(daemon, ["models", "pull", "test:model", "--catalog", catalog, "--model-dir", models])
            #expect(again.status == 0 && again.stdout.contains("already there"))
            let path = try TestEnvironment.runToCompletion(daemon, ["models", "path", "test:model", "--model-dir", models])
            #expect(path.stdout == "\(models)/test-model.gguf\n")
            // A name outside the catalog is fine when its file is already there (a model of one's own).
            try Data("GGUF".utf8).write(to: URL(fileURLWithPath: models + "/mine-1.gguf"))
            let own = try TestEnvironment.runToCompletion(daemon, ["models", "pull", "mine:1", "--model-dir", models])
            #expect(own.status == 0 && own.stdout.contains("already there"), "\(own.stderr)")
            let unknown = try TestEnvironment.runToCompletion(daemon, ["models", "pull", "no:such", "--model-dir", models])
            #expect(unknown.status == 1 && unknown.stderr.contains("unknown model name 'no:such'") && unknown.stderr.contains("qwen3:14b"))
            let badCatalog = directory + "/bad.json"
            try #"{"x": {"url": "ftp://h/f", "sha256": "ab"}}"#.write(toFile: badCatalog, atomically: true, encoding: .utf8)
            let refused = try TestEnvironment.runToCompletion(daemon, ["models", "list", "--catalog", badCatalog])
            #expect(refused.status == 1 && refused.stderr.contains("url must start with"))
        }
    }
}

/// A tmpfs of a given size, mounted for one test.
private struct SmallFileSystem {
    let path: String

    static let canMount: Bool = {
        guard let probe = try? TestEnvironment.temporaryDirectory("tmpfs") else { return false }
        guard mount("tmpfs", probe, "tmpfs", 0, "size=64k") == 0 else { return false }
        umount(probe)
        return true
    }()

    init(at path: String, size: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(size)") == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
        self.path = path
    }

    func unmount() {
        umount(path)
    }
}
