import Autonomy
import Foundation
import Testing

extension IntegrationTests {
    /// module.nix and flake.nix: parsed by Debian's nix-bin everywhere; evaluated with nixpkgs' module system
    /// (`Tests/Nix/eval-module.nix`) where nixpkgs' lib is on the machine — `AI_SYSADMIN_NIXPKGS_LIB=/path/to/lib`
    /// or `<nixpkgs>` on NIX_PATH. A CI machine without it skips the evaluation and says why.
    @Suite struct NixModuleTests {
        static let nixInstantiate = "/usr/bin/nix-instantiate"

        /// nixpkgs' `lib` directory, if this machine has one.
        static let nixpkgsLib: String? = {
            if let path = ProcessInfo.processInfo.environment["AI_SYSADMIN_NIXPKGS_LIB"],
               FileManager.default.fileExists(atPath: path + "/default.nix") {
                return path
            }
            guard FileManager.default.isExecutableFile(atPath: nixInstantiate),
                  let found = try? TestEnvironment.runToCompletion(nixInstantiate, ["--find-file", "nixpkgs"]),
                  found.status == 0 else { return nil }
            let lib = found.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "/lib"
            return FileManager.default.fileExists(atPath: lib + "/default.nix") ? lib : nil
        }()

        @Test func everyNixFileParses() throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.nixInstantiate), "nix-instantiate is missing; scripts/setup installs nix-bin")
            let root = TestEnvironment.repositoryRoot
            let files = ["module.nix", "flake.nix", "Tests/Nix/eval-module.nix"]
            for file in files {
                let result = try TestEnvironment.runToCompletion(Self.nixInstantiate, ["--parse", root + "/" + file])
                #expect(result.status == 0, "\(file): \(result.stderr)")
            }
        }

        private struct Evaluation: Decodable {
            struct Unit: Decodable {
                let wantedBy: [String]
                let requires: [String]
                let after: [String]
                let serviceConfig: [String: ConfigValue]
            }
            enum ConfigValue: Decodable, Equatable {
                case text(String), flag(Bool), number(Int), list([String])
                init(from decoder: any Decoder) throws {
                    let value = try decoder.singleValueContainer()
                    if let flag = try? value.decode(Bool.self) { self = .flag(flag) }
                    else if let number = try? value.decode(Int.self) { self = .number(number) }
                    else if let list = try? value.decode([String].self) { self = .list(list) }
                    else { self = .text(try value.decode(String.self)) }
                }
            }
            let failedAssertions: [String]
            let warnings: [String]
            let units: [String: Unit]
            let firewall: [Int]
            let polkit: String
            let etc: [String: String]
            let settingsJSON: String
        }

        /// Evaluates the module with one of the configurations `Tests/Nix/eval-module.nix` defines.
        private func evaluate(_ name: String) throws -> Evaluation {
            let lib = try #require(Self.nixpkgsLib)
            let harness = TestEnvironment.repositoryRoot + "/Tests/Nix/eval-module.nix"
            let result = try TestEnvironment.runToCompletion(Self.nixInstantiate, [
                "--eval", "--strict", "--json", harness, "--arg", "lib", lib, "--argstr", "case", name])
            try #require(result.status == 0, "evaluating case \(name): \(result.stderr)")
            // The settings come back as an object; the tests want the text the daemon would read.
            var object = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let settings = try JSONSerialization.data(withJSONObject: object["settings"] ?? [:])
            // Foundation writes "/" as "\/"; both are the same JSON, only the tests' `contains` cares.
            object["settingsJSON"] = String(decoding: settings, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
            return try JSONDecoder().decode(Evaluation.self, from: JSONSerialization.data(withJSONObject: object))
        }

        /// The generated file must pass the check `nixos-rebuild` runs on it at build time.
        private func expectConfigCheckPasses(_ evaluation: Evaluation, _ name: String) throws {
            let file = try TestEnvironment.temporaryDirectory("nixcfg") + "/ai-sysadmin.json"
            try evaluation.settingsJSON.write(toFile: file, atomically: true, encoding: .utf8)
            let check = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["config", "check", file])
            #expect(check.status == 0, "\(name): the generated configuration fails its check: \(check.stderr)")
        }

        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"))
        func theDefaultsGiveTheContractsUnits() throws {
            let evaluation = try evaluate("default")
            #expect(evaluation.failedAssertions.isEmpty && evaluation.warnings.isEmpty)
            #expect(Set(evaluation.units.keys) == ["ai-sysadmin-keys", "ai-sysadmin-models", "llama-trigger", "llama-review",
                                                   "llama-meta", "ai-sysadmin-api", "ai-sysadmin-ai"])
            let main = try #require(evaluation.units["ai-sysadmin-ai"])
            for layer in ["trigger", "review", "meta"] {
                #expect(main.requires.contains("llama-\(layer).service") && main.after.contains("llama-\(layer).service"))
                let model = try #require(evaluation.units["llama-\(layer)"])
                #expect(model.serviceConfig["Restart"] == .text("always"))
                #expect(model.requires.contains("ai-sysadmin-models.service"), "models given by name are downloaded first")
                guard case .text(let exec)? = model.serviceConfig["ExecStart"] else { Issue.record("no ExecStart"); continue }
                #expect(exec.contains("/bin/ai-sysadmin serve-model \(layer) --config ") && exec.hasSuffix("--api-key-file %d/model-key"))
            }
            #expect(main.serviceConfig["Type"] == .text("notify") && main.serviceConfig["WatchdogSec"] != nil)
            let api = try #require(evaluation.units["ai-sysadmin-api"])
            #expect(api.requires.contains("llama-meta.service") && api.after.contains("llama-meta.service"))
            #expect(evaluation.firewall.isEmpty)
            #expect(evaluation.etc["ai-sysadmin/config.json"]?.hasSuffix("-ai-sysadmin-config.json") == true,
                    "the CLI finds the generated configuration at /etc/ai-sysadmin/config.json: \(evaluation.etc)")
            #expect(evaluation.settingsJSON.contains(#""model":"/var/lib/ai-sysadmin/models/qwen3-14b.gguf""#),
                    "a model name must resolve the way the daemon and `models pull` resolve it")
            try expectConfigCheckPasses(evaluation, "default")
        }

        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"))
        func accelerationChangesTheBuildTheLayersAndTheDevices() throws {
            let cpu = try evaluate("default")
            let cuda = try evaluate("cuda")
            #expect(cuda.settingsJSON.contains("llama-cpp-cuda/bin/llama-server") && !cpu.settingsJSON.contains("llama-cpp-cuda"))
            #expect(cuda.settingsJSON.contains(#""gpuLayers":999"#) && !cpu.settingsJSON.contains(#""gpuLayers":999"#))
            #expect(cuda.units["llama-meta"]?.serviceConfig["PrivateDevices"] == .flag(false))
            #expect(cuda.units["llama-meta"]?.serviceConfig["SupplementaryGroups"] == .list(["render", "video"]))
            #expect(cpu.units["llama-meta"]?.serviceConfig["PrivateDevices"] == .flag(true))
            try expectConfigCheckPasses(cuda, "cuda")
        }

        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"))
        func modelsGivenAsPathsOrDerivationsAreUsedAsTheyAre() throws {
            let evaluation = try evaluate("modelsByPath")
            #expect(evaluation.units["ai-sysadmin-models"] == nil, "nothing to download")
            for fragment in ["/srv/models/tiny.gguf", "-review.gguf", "/srv/models/meta.gguf"] {
                #expect(evaluation.settingsJSON.contains(fragment), "\(fragment)")
            }
            try expectConfigCheckPasses(evaluation, "modelsByPath")
        }

        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"),
              arguments: [
                ("exposedModel", "metaModel.host = \"0.0.0.0\" is not loopback"),
                ("samePorts", "need distinct ports"),
                ("authWithoutKey", "requireAuth needs openaiApi.apiKeyFile"),
                ("ollama", "llama.cpp now, not Ollama"),
                ("gotifyWithoutToken", "gotify needs both url and tokenFile"),
              ])
        func unsafeOrStaleConfigurationsFailEvaluation(_ name: String, _ message: String) throws {
            let evaluation = try evaluate(name)
            #expect(evaluation.failedAssertions.contains { $0.contains(message) }, "\(evaluation.failedAssertions)")
        }

        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"))
        func keysTravelAsCredentialsAndWarningsNameTheRisk() throws {
            let withFile = try evaluate("authWithKeyFile")
            #expect(withFile.failedAssertions.isEmpty && withFile.warnings.isEmpty)
            #expect(withFile.firewall == [40083])
            let api = try #require(withFile.units["ai-sysadmin-api"])
            #expect(api.serviceConfig["LoadCredential"] == .list(["model-key:/run/ai-sysadmin-keys/model-key", "api-keys:/run/secrets/api-keys"]))
            guard case .text(let exec)? = api.serviceConfig["ExecStart"] else { Issue.record("no ExecStart"); return }
            #expect(exec.hasSuffix("--api-key-file %d/api-keys") && !exec.contains("/run/secrets"))

            #expect(try evaluate("keyInStore").warnings.contains { $0.contains("world-readable Nix store") })
            #expect(try evaluate("openOnNetwork").warnings.contains { $0.contains("without requireAuth") })
            #expect(try evaluate("exposedModelAllowed").failedAssertions.isEmpty)
            #expect(try evaluate("named").units["macha-ai"] != nil)
        }

        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"))
        func withoutLlamaUnitsTheModelsAreRemote() throws {
            let evaluation = try evaluate("noLlamaUnits")
            #expect(Set(evaluation.units.keys) == ["ai-sysadmin-keys", "ai-sysadmin-api", "ai-sysadmin-ai"])
            #expect(evaluation.settingsJSON.contains(#""backend":"remote""#) && !evaluation.settingsJSON.contains(#""backend":"external""#))
            try expectConfigCheckPasses(evaluation, "noLlamaUnits")
        }

        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"))
        func autonomyNotificationsAndIntervalsReachTheDaemonAndPolkit() throws {
            let evaluation = try evaluate("autonomy")
            #expect(evaluation.failedAssertions.isEmpty && evaluation.warnings.isEmpty, "\(evaluation.failedAssertions)")
            for fragment in [#""autonomyLevel":"auto-safe""#, #""protectedUnits":["postgresql.service","ai-sysadmin-ai.service"]"#, #""intervalSeconds":300"#,
                             #""files":["/var/log/app.log"]"#, #""url":"https://hooks.example.org/ai""#,
                             #""tokenFile":"/run/credentials/ai-sysadmin-ai.service/gotify-token""#] {
                #expect(evaluation.settingsJSON.contains(fragment), "\(fragment) in \(evaluation.settingsJSON)")
            }
            #expect(!evaluation.settingsJSON.contains("/run/secrets"), "the token's path stays out of the store")
            let main = try #require(evaluation.units["ai-sysadmin-ai"])
            #expect(main.serviceConfig["LoadCredential"] == .list(["model-key:/run/ai-sysadmin-keys/model-key",
                                                                    "gotify-token:/run/secrets/gotify-token"]))
            #expect(evaluation.polkit.contains(#""postgresql.service""#) && evaluation.polkit.contains(#""ai-sysadmin-ai.service""#))
            #expect(evaluation.polkit.contains(#""reset-failed""#))
            try expectConfigCheckPasses(evaluation, "autonomy")

            // At observe the daemon may restart its model units, and nothing else.
            let observe = try evaluate("observe")
            #expect(observe.settingsJSON.contains(#""autonomyLevel":"observe""#))
            #expect(observe.polkit.contains(#""executor":false"#) && observe.polkit.contains(#""llama-meta.service""#))
        }

        /// Chat is on by default under the id `ai-sysadmin`; it can be renamed, bounded, or turned off, which also
        /// takes the agent's id off the API.
        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"))
        func chatOptionsReachTheConfiguration() throws {
            struct Chat: Decodable, Equatable {
                struct API: Decodable, Equatable { let agentModelId: String? }
                struct Section: Decodable, Equatable { let enable: Bool; let maxToolSteps: Int }
                let api: API
                let chat: Section
            }
            func chat(_ evaluation: Evaluation) throws -> Chat {
                try JSONDecoder().decode(Chat.self, from: Data(evaluation.settingsJSON.utf8))
            }
            #expect(try chat(evaluate("default")) == Chat(api: .init(agentModelId: "ai-sysadmin"), chat: .init(enable: true, maxToolSteps: 4)))
            let renamed = try evaluate("chatRenamed")
            #expect(try chat(renamed) == Chat(api: .init(agentModelId: "sysadmin"), chat: .init(enable: true, maxToolSteps: 2)))
            try expectConfigCheckPasses(renamed, "chatRenamed")
            let off = try evaluate("noChat")
            #expect(try chat(off) == Chat(api: .init(agentModelId: nil), chat: .init(enable: false, maxToolSteps: 4)), "\(off.settingsJSON)")
            try expectConfigCheckPasses(off, "noChat")
        }

        /// The module's polkit rule is the one the executor's own policy gives (`ai-sysadmin polkit-rule`, built from the
        /// same file), at an autonomy level that acts and at observe.
        @Test(.enabled(if: NixModuleTests.nixpkgsLib != nil, "nixpkgs' lib is not on this machine (set AI_SYSADMIN_NIXPKGS_LIB or NIX_PATH)"))
        func thePolkitRuleIsTheExecutorsOwn() throws {
            for name in ["autonomy", "observe"] {
                let evaluation = try evaluate(name)
                let file = try TestEnvironment.temporaryDirectory("nixrule") + "/ai-sysadmin.json"
                try evaluation.settingsJSON.write(toFile: file, atomically: true, encoding: .utf8)
                let generated = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["polkit-rule", "--config", file])
                #expect(generated.status == 0, "\(generated.stderr)")
                #expect(evaluation.polkit == generated.stdout, "\(name): the module's rule differs from `ai-sysadmin polkit-rule`")
            }
        }
    }
}
