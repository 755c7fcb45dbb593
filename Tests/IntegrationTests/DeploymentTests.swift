import Foundation
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// What non-NixOS hosts install: the unit files of systemd/, scripts/install, and the two subcommands the
    /// units run (`serve-model`, `model-key`).
    @Suite struct DeploymentTests {
        private var units: [String] {
            get throws {
                try FileManager.default.contentsOfDirectory(atPath: TestEnvironment.repositoryRoot + "/systemd")
                    .filter { $0.hasSuffix(".service") }.sorted()
            }
        }

        /// `systemd-analyze verify` checks each unit's syntax, keys, dependencies and that its ExecStart binary
        /// exists; the units name /usr/local/bin, so they are checked pointing at the binaries just built.
        @Test func theUnitsPassSystemdAnalyzeVerify() throws {
            let analyze = "/usr/bin/systemd-analyze"
            try #require(FileManager.default.isExecutableFile(atPath: analyze), "systemd-analyze is missing; scripts/setup installs systemd")
            let binaries = URL(fileURLWithPath: try TestEnvironment.daemonExecutable()).deletingLastPathComponent().path
            let directory = try TestEnvironment.temporaryDirectory("units")
            let names = try units
            #expect(names == ["ai-sysadmin-ai.service", "ai-sysadmin-api.service", "ai-sysadmin-keys.service",
                              "llama-meta.service", "llama-review.service", "llama-trigger.service"])
            for name in names {
                let text = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/systemd/" + name, encoding: .utf8)
                try text.replacingOccurrences(of: "/usr/local/bin/", with: binaries + "/")
                    .write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
            }
            let result = try TestEnvironment.runToCompletion(analyze, ["verify"] + names.map { directory + "/" + $0 })
            #expect(result.status == 0 && result.stderr.isEmpty, "systemd-analyze verify: \(result.stderr)")
        }

        @Test func theUnitsDependOnWhatTheContractSays() throws {
            func unit(_ name: String) throws -> String {
                try String(contentsOfFile: TestEnvironment.repositoryRoot + "/systemd/" + name, encoding: .utf8)
            }
            let main = try unit("ai-sysadmin-ai.service")
            for layer in ["trigger", "review", "meta"] {
                // Wants=, so restarting a model unit does not restart the daemon (Requires= would).
                #expect(main.contains("Wants=llama-trigger.service llama-review.service llama-meta.service") && !main.contains("Requires=llama"))
                let model = try unit("llama-\(layer).service")
                #expect(model.contains("Restart=always"))
                #expect(model.contains("ExecStart=/usr/local/bin/ai-sysadmin serve-model \(layer) "))
                #expect(model.contains("LoadCredential=model-key:"))
            }
            #expect(main.contains("Type=notify") && main.contains("WatchdogSec=") && main.contains("Restart=always"))
            let api = try unit("ai-sysadmin-api.service")
            #expect(api.contains("Wants=llama-meta.service") && api.contains("After=llama-meta.service") && !api.contains("Requires=llama"))
            // Keys travel as credentials, never in the environment or on a command line.
            for name in try units {
                let text = try unit(name)
                #expect(!text.contains("Environment=") && !text.contains("--api-key "), "\(name)")
            }
        }

        @Test func theInstallerPlacesEverythingUnderARootAndKeepsAnEditedConfig() throws {
            let root = try TestEnvironment.temporaryDirectory("root")
            let binaries = URL(fileURLWithPath: try TestEnvironment.daemonExecutable()).deletingLastPathComponent().path
            let installer = TestEnvironment.repositoryRoot + "/scripts/install"
            let arguments = ["--root", root, "--prefix", "/opt/ais", "--ai-name", "macha", "--bin-dir", binaries]
            let first = try TestEnvironment.runToCompletion(installer, arguments)
            try #require(first.status == 0, "scripts/install failed: \(first.stderr)")

            let fm = FileManager.default
            for binary in ["ai-sysadmin", "ai-sysadmin-api"] {
                #expect(fm.isExecutableFile(atPath: "\(root)/opt/ais/bin/\(binary)"))
            }
            let main = try String(contentsOfFile: "\(root)/etc/systemd/system/macha-ai.service", encoding: .utf8)
            #expect(main.contains("ExecStart=/opt/ais/bin/ai-sysadmin run "), "the prefix was not applied")
            #expect(!fm.fileExists(atPath: "\(root)/etc/systemd/system/ai-sysadmin-ai.service"))
            let rule = try String(contentsOfFile: "\(root)/etc/polkit-1/rules.d/50-ai-sysadmin.rules", encoding: .utf8)
            #expect(rule.contains(#""macha-ai.service""#) && rule.contains(#""executor":true"#), "the rule is generated for this host: \(rule)")
            #expect((try fm.attributesOfItem(atPath: "\(root)/etc/ai-sysadmin/operator-keys")[.posixPermissions] as? Int) == 0o600)
            let keys = try fm.attributesOfItem(atPath: "\(root)/etc/ai-sysadmin/api-keys")
            #expect((keys[.posixPermissions] as? Int) == 0o600)
            let config = "\(root)/etc/ai-sysadmin/config.json"
            let check = try TestEnvironment.runToCompletion(binaries + "/ai-sysadmin", ["config", "check", config])
            #expect(check.status == 0, "the installed configuration fails its check: \(check.stderr)")
            let installed = try DaemonConfiguration.load(from: config)
            #expect(ModelLayer.allCases.allSatisfy { installed.models[$0].backend == .external })
            #expect(installed.api.supervised == false)

            // An operator's edit survives a second run.
            var edited = installed
            edited.api.port = 41234
            try edited.encodedJSON().write(toFile: config, atomically: true, encoding: .utf8)
            let second = try TestEnvironment.runToCompletion(installer, arguments)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(try DaemonConfiguration.load(from: config).api.port == 41234)

            let refused = try TestEnvironment.runToCompletion(installer, arguments + ["--ai-name", "bad name"])
            #expect(refused.status != 0 && refused.stderr.contains("--ai-name"))
        }

        @Test func modelKeyWritesAFreshPrivateKey() throws {
            let directory = try TestEnvironment.temporaryDirectory("mkey")
            let file = directory + "/model-key"
            let daemon = try TestEnvironment.daemonExecutable()
            var keys: [String] = []
            for _ in 0..<2 {
                let result = try TestEnvironment.runToCompletion(daemon, ["model-key", file])
                try #require(result.status == 0, "\(result.stderr)")
                let attributes = try FileManager.default.attributesOfItem(atPath: file)
                #expect((attributes[.posixPermissions] as? Int) == 0o600)
                let text = try String(contentsOfFile: file, encoding: .utf8)
                #expect(text.count == 65 && text.hasSuffix("\n") && text.dropLast().allSatisfy(\.isHexDigit), "\(text)")
                keys.append(text)
            }
            #expect(keys[0] != keys[1])
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model-key"], "a temporary file was left")
            let missing = try TestEnvironment.runToCompletion(daemon, ["model-key", directory + "/no/such/dir/key"])
            #expect(missing.status == 1 && missing.stderr.contains("no/such/dir/key"))
        }

        /// The llama-* units' command: the process becomes llama-server (same pid, so systemd supervises
        /// llama-server itself), with the key from --api-key-file, and stops on SIGTERM.
        @Test func serveModelBecomesTheLayersLlamaServer() async throws {
            let directory = try TestEnvironment.temporaryDirectory("serve")
            let keyFile = directory + "/model-key"
            let key = try ModelAPIKey.createKeyFile(at: keyFile)
            let port = freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try TestEnvironment.daemonExecutable())
            process.arguments = ["serve-model", "trigger", "--trigger-model", try TestEnvironment.model(),
                                 "--llama-server", try TestEnvironment.llamaServer(), "--trigger-port", "\(port)",
                                 "--state-dir", directory, "--api-key-file", keyFile]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let pid = process.processIdentifier
            defer { if isAlive(pid) { kill(pid, SIGKILL) } }

            let llamaServer = URL(fileURLWithPath: try TestEnvironment.llamaServer()).resolvingSymlinksInPath().path
            #expect(await eventually(timeout: .seconds(10)) {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) == llamaServer
            }, "process \(pid) did not become \(llamaServer)")
            let http = UpstreamHTTPClient.shared
            let base = "http://127.0.0.1:\(port)"
            let answered = await eventually(timeout: .seconds(60)) {
                let request = UpstreamClient.HTTPRequest(url: base + "/v1/models", headers: [("Authorization", "Bearer \(key)")])
                return (try? await http.execute(request))?.status == 200
            }
            #expect(answered, "llama-server did not answer with the key")
            let anonymous = try await http.execute(UpstreamClient.HTTPRequest(url: base + "/v1/models"))
            #expect(anonymous.status == 401, "llama-server answered without the key")

            kill(pid, SIGTERM)
            #expect(await eventually(timeout: .seconds(10)) { !process.isRunning }, "SIGTERM did not stop it")
        }

        /// Under NixOS a model unit starts while its model still downloads: `serve-model --wait-for-model` waits, says
        /// how far the download is (sd_notify STATUS=, which `systemctl status` shows, and its log), and goes on once
        /// the file is there.
        @Test func serveModelWaitsForItsModelAndSaysHowFarTheDownloadIs() async throws {
            let directory = try TestEnvironment.temporaryDirectory("wait")
            let keyFile = directory + "/model-key"
            _ = try ModelAPIKey.createKeyFile(at: keyFile)
            let models = directory + "/models"
            try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
            // A download under way: the partial file `models pull` writes.
            try Data(count: 2 * 1024 * 1024).write(to: URL(fileURLWithPath: models + "/.qwen3-1b.gguf.partial"))
            let notify = try DatagramListener(path: directory + "/notify.sock")
            let output = directory + "/stdout", errors = directory + "/stderr"
            for file in [output, errors] { _ = FileManager.default.createFile(atPath: file, contents: nil) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try TestEnvironment.daemonExecutable())
            process.arguments = ["serve-model", "trigger", "--wait-for-model", "--dry-run", "--trigger-model", "qwen3:1b", "--state-dir", directory,
                                 "--llama-server", try TestEnvironment.llamaServer(), "--api-key-file", keyFile]
            process.environment = ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": notify.path]) { _, new in new }
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
            try process.run()
            defer { TestEnvironment.end(process) }

            let statuses = await notify.receive(until: { $0.contains { $0.contains("downloaded") } }, timeout: .seconds(20))
            #expect(statuses.contains("STATUS=waiting for qwen3-1b.gguf: 2.0 MiB of 1.7 GiB downloaded (0%)"), "\(statuses)")
            #expect(process.isRunning, "it must wait while the file is not there")
            #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("serve-model trigger: waiting for qwen3-1b.gguf"))

            try FileManager.default.moveItem(atPath: models + "/.qwen3-1b.gguf.partial", toPath: models + "/qwen3-1b.gguf")
            #expect(await eventually(timeout: .seconds(20)) { !process.isRunning }, "it did not go on once the file was there")
            #expect(process.terminationStatus == 0)
            #expect(try String(contentsOfFile: output, encoding: .utf8).contains("--model \(models)/qwen3-1b.gguf"), "the dry run prints llama-server's command")
        }

        @Test func serveModelRefusesWhatItCannotRun() throws {
            let directory = try TestEnvironment.temporaryDirectory("serve-bad")
            let keyFile = directory + "/model-key"
            _ = try ModelAPIKey.createKeyFile(at: keyFile)
            let daemon = try TestEnvironment.daemonExecutable()
            let noModel = try TestEnvironment.runToCompletion(daemon, [
                "serve-model", "meta", "--meta-model", directory + "/absent.gguf", "--api-key-file", keyFile])
            #expect(noModel.status == 1 && noModel.stderr.contains("absent.gguf") && noModel.stderr.contains("models.meta.model"))
            let noKey = try TestEnvironment.runToCompletion(daemon, [
                "serve-model", "meta", "--meta-model", try TestEnvironment.model(), "--api-key-file", directory + "/nokey"])
            #expect(noKey.status == 1 && noKey.stderr.contains("--api-key-file"))
        }
    }
}
