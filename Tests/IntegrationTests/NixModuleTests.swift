import Autonomy
import Foundation
import SysadminConfiguration
import Testing

extension IntegrationTests {
    /// module.nix evaluated by NixOS's own systemd machinery (`../shared/nix/nixos-systemd/eval.nix`, with nixpkgs'
    /// lib) the way `nixos-rebuild` would, minus building: the cases of `Tests/Nix/cases.nix`, their rendered unit
    /// files (through `systemd-analyze verify` and `security`), the generated configuration (through `ai-sysadmin
    /// config check`), and the polkit rule (run under Node.js). Elsewhere, AI_SYSADMIN_NIXOS_EVAL names eval.nix.
    @Suite struct NixModuleTests {
        static let nixInstantiate = "/usr/bin/nix-instantiate"

        /// NixOS's systemd machinery: `../shared/nix/nixos-systemd/eval.nix` beside the repository, or
        /// AI_SYSADMIN_NIXOS_EVAL (with AI_SYSADMIN_NIXPKGS_LIB for nixpkgs' lib when it is not beside that).
        static let evalNix: String? = {
            let candidates = [ProcessInfo.processInfo.environment["AI_SYSADMIN_NIXOS_EVAL"],
                              TestEnvironment.repositoryRoot + "/../shared/nix/nixos-systemd/eval.nix"]
            return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
        }()
        static let reason = "NixOS's systemd machinery is not beside the repository (../shared/nix); set AI_SYSADMIN_NIXOS_EVAL"

        @Test func everyNixFileParses() throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.nixInstantiate), "nix-instantiate is missing; scripts/setup installs nix-bin")
            for file in ["module.nix", "flake.nix", "nix/package.nix", "Tests/Nix/cases.nix", "Tests/Nix/pkgs.nix", "Tests/Nix/flake-check.nix"] {
                let result = try TestEnvironment.runToCompletion(Self.nixInstantiate, ["--parse", TestEnvironment.repositoryRoot + "/" + file])
                #expect(result.status == 0, "\(file): \(result.stderr)")
            }
        }

        // MARK: Evaluating

        struct Evaluation: Decodable {
            let warnings: [String]
            let units: [String: String]
            let etc: [String: String?]
            let polkit: String
            let firewall: [Int]
            let tmpfiles: [String]

            func unit(_ name: String) throws -> UnitFile {
                UnitFile(try #require(units[name + ".service"], "no unit \(name).service among \(units.keys.sorted())"))
            }

            /// The generated configuration, as /etc/ai-sysadmin/config.json holds it (the units read a checked copy).
            var settingsJSON: String {
                get throws { try #require(etc["ai-sysadmin/config.json"] ?? nil, "no /etc/ai-sysadmin/config.json text: \(etc.keys)") }
            }

            var settings: [String: Any] {
                get throws { try #require(try JSONSerialization.jsonObject(with: Data(settingsJSON.utf8)) as? [String: Any]) }
            }
        }

        /// A rendered unit file, as systemd reads it: sections of `Key=value` lines, keys repeated for lists.
        struct UnitFile {
            let text: String

            init(_ text: String) { self.text = text }

            func values(_ section: String, _ key: String) -> [String] {
                var current = ""
                var found: [String] = []
                for line in text.split(separator: "\n") {
                    if line.hasPrefix("[") { current = String(line.dropFirst().dropLast()); continue }
                    guard current == section, let equals = line.firstIndex(of: "="), line[..<equals] == key else { continue }
                    found.append(String(line[line.index(after: equals)...]))
                }
                return found
            }

            func value(_ section: String, _ key: String) -> String? { values(section, key).last }

            /// Space-separated list keys (After=, Wants=, ...), every line of them.
            func list(_ section: String, _ key: String) -> [String] { values(section, key).flatMap { $0.split(separator: " ").map(String.init) } }
        }

        struct EvaluationFailed: Error, CustomStringConvertible {
            let stderr: String
            var description: String { stderr }
        }

        /// Evaluates `configuration` (a Nix expression for a NixOS module) with `extraPkgs` (one for the stand-ins).
        static func evaluate(configuration: String, extraPkgs: String, module: String? = nil, fakeStore: String? = nil) throws -> Evaluation {
            let evalNix = try #require(evalNix, Comment(rawValue: reason))
            var arguments = ["--eval", "--strict", "--json", evalNix,
                             "--arg", "module", module ?? TestEnvironment.repositoryRoot + "/module.nix",
                             "--arg", "configuration", configuration, "--arg", "extraPkgs", extraPkgs]
            if let lib = ProcessInfo.processInfo.environment["AI_SYSADMIN_NIXPKGS_LIB"] { arguments += ["--arg", "lib", lib] }
            if let fakeStore { arguments += ["--argstr", "fakeStore", fakeStore] }
            let result = try TestEnvironment.runToCompletion(nixInstantiate, arguments)
            guard result.status == 0 else { throw EvaluationFailed(stderr: result.stderr) }
            return try JSONDecoder().decode(Evaluation.self, from: Data(result.stdout.utf8))
        }

        /// One of the cases of Tests/Nix/cases.nix.
        static func evaluate(_ name: String, fakeStore: String? = nil) throws -> Evaluation {
            let cases = TestEnvironment.repositoryRoot + "/Tests/Nix/cases.nix"
            return try evaluate(configuration: "(import \(cases)).\(name).module",
                                extraPkgs: "import \(TestEnvironment.repositoryRoot)/Tests/Nix/pkgs.nix (import \(cases)).\(name)", fakeStore: fakeStore)
        }

        /// The case's evaluation error (its failed assertions or its thrown message).
        static func failure(_ name: String) throws -> String {
            do {
                _ = try evaluate(name)
            } catch let failed as EvaluationFailed {
                return failed.stderr
            }
            Issue.record("\(name) evaluated, but should have failed")
            return ""
        }

        /// The generated file must pass the check `nixos-rebuild` runs on it at build time (module.nix's configFile: the
        /// key files are credentials that exist only once the units start).
        private func expectConfigCheckPasses(_ evaluation: Evaluation, _ name: String) throws {
            let file = try TestEnvironment.temporaryDirectory("nixcfg") + "/ai-sysadmin.json"
            try evaluation.settingsJSON.write(toFile: file, atomically: true, encoding: .utf8)
            let check = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["config", "check", "--key-files-at-start", file])
            #expect(check.status == 0, "\(name): the generated configuration fails its check: \(check.stderr)")
        }

        // MARK: The units

        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func theDefaultsGiveTheContractsUnits() throws {
            let evaluation = try Self.evaluate("default")
            #expect(evaluation.warnings.isEmpty)
            #expect(Set(evaluation.units.keys) == ["ai-sysadmin-keys.service", "ai-sysadmin-models.service", "llama-trigger.service",
                                                   "llama-review.service", "llama-meta.service", "ai-sysadmin-api.service", "ai-sysadmin-ai.service"])
            let main = try evaluation.unit("ai-sysadmin-ai")
            for layer in ["trigger", "review", "meta"] {
                #expect(main.list("Unit", "Wants").contains("llama-\(layer).service") && main.list("Unit", "After").contains("llama-\(layer).service"))
                let model = try evaluation.unit("llama-\(layer)")
                #expect(model.value("Service", "Restart") == "always")
                let exec = try #require(model.value("Service", "ExecStart"))
                #expect(exec.contains("/bin/ai-sysadmin serve-model \(layer) --wait-for-model --config ") && exec.hasSuffix("--api-key-file %d/model-key"))
            }
            #expect(main.value("Service", "Type") == "notify" && main.value("Service", "WatchdogSec") != nil)
            let api = try evaluation.unit("ai-sysadmin-api")
            #expect(api.list("Unit", "Wants").contains("llama-meta.service") && api.list("Unit", "After").contains("llama-meta.service"))
            #expect(evaluation.firewall.isEmpty)
            #expect(evaluation.etc.keys.contains("ai-sysadmin/config.json"), "the CLI finds the generated configuration at /etc/ai-sysadmin/config.json")
            #expect(try evaluation.settingsJSON.contains(#""model":"/var/lib/ai-sysadmin/models/qwen3-14b.gguf""#),
                    "a model name must resolve the way the daemon and `models pull` resolve it")
            try expectConfigCheckPasses(evaluation, "default")
        }

        /// Defect: the daemon and the API Required= the model units, so restarting a hung llama-meta over D-Bus
        /// restarted the daemon (and the API) with it (systemd.unit(5): Requires= propagates explicit restarts).
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func restartingAModelUnitRestartsNothingElse() throws {
            let evaluation = try Self.evaluate("default")
            for (name, text) in evaluation.units {
                let unit = UnitFile(text)
                for key in ["Requires", "BindsTo", "PartOf", "Requisite"] {
                    let reaching = unit.list("Unit", key).filter { $0.hasPrefix("llama-") || $0 == "ai-sysadmin-ai.service" }
                    #expect(reaching.isEmpty, "\(name) has \(key)=\(reaching): restarting those would restart \(name)")
                }
            }
        }

        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func accelerationChangesTheBuildTheLayersAndTheDevices() throws {
            let cpu = try Self.evaluate("default")
            let cuda = try Self.evaluate("cuda")
            #expect(try cuda.settingsJSON.contains("llama-cpp-cuda/bin/llama-server") && !cpu.settingsJSON.contains("llama-cpp-cuda"))
            #expect(try cuda.settingsJSON.contains(#""gpuLayers":999"#) && !cpu.settingsJSON.contains(#""gpuLayers":999"#))
            let gpuUnit = try cuda.unit("llama-meta"), cpuUnit = try cpu.unit("llama-meta")
            #expect(gpuUnit.value("Service", "PrivateDevices") == "false" && gpuUnit.value("Service", "DevicePolicy") == "closed")
            #expect(gpuUnit.values("Service", "DeviceAllow").contains("char-nvidia-uvm"))
            #expect(gpuUnit.list("Service", "SupplementaryGroups") == ["render", "video"])
            #expect(cpuUnit.value("Service", "PrivateDevices") == "true" && cpuUnit.values("Service", "DeviceAllow").isEmpty)
            try expectConfigCheckPasses(cuda, "cuda")
        }

        /// Defect: GPU access followed only `acceleration`; a CUDA `llamacpp.package`, or nixpkgs' own
        /// config.cudaSupport, left the devices closed and no layer offloaded.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)), arguments: ["gpuPackage", "nixpkgsCuda"])
        func aGpuBuildGetsTheGpuHoweverItWasChosen(_ name: String) throws {
            let evaluation = try Self.evaluate(name)
            #expect(try evaluation.unit("llama-meta").value("Service", "PrivateDevices") == "false", "\(name)")
            #expect(try evaluation.settingsJSON.contains(#""gpuLayers":999"#), "\(name)")
        }

        /// Defect: model units had ProcSubset=pid and SystemCallFilter=~@resources without SystemCallErrorNumber, which
        /// can kill a GPU llama-server outright.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func modelUnitsDoNotKillAServerForASystemCallItNeeds() throws {
            for name in ["default", "cuda"] {
                let unit = try Self.evaluate(name).unit("llama-meta")
                #expect(!unit.list("Service", "SystemCallFilter").contains("~@resources"), "\(name)")
                #expect(unit.value("Service", "SystemCallErrorNumber") == "EPERM", "\(name)")
                #expect(unit.value("Service", "ProcSubset") == (name == "cuda" ? "all" : "pid"), "\(name): the GPU drivers read /proc")
                #expect(unit.value("Service", "NoNewPrivileges") == "true" && unit.value("Service", "ProtectSystem") == "strict")
            }
        }

        /// Defect: ai-sysadmin-models was a oneshot with TimeoutStartSec=infinity that the model units required: the
        /// first `nixos-rebuild switch` waited for ~15 GB of downloads.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func modelsDownloadInTheBackgroundAndTheModelUnitsWaitForThem() throws {
            let evaluation = try Self.evaluate("default")
            let models = try evaluation.unit("ai-sysadmin-models")
            #expect(models.value("Service", "Type") == "exec" && models.value("Service", "RemainAfterExit") == nil)
            #expect(models.value("Service", "TimeoutStartSec") == nil && models.value("Service", "Restart") == "on-failure")
            #expect(models.value("Service", "ExecStart")?.contains("models pull qwen3:1b qwen3:4b qwen3:14b --config ") == true,
                    "the small models first, so the trigger layer starts soonest")
            for layer in ["trigger", "review", "meta"] {
                let unit = try evaluation.unit("llama-\(layer)")
                #expect(!unit.list("Unit", "Requires").contains("ai-sysadmin-models.service") && !unit.list("Unit", "After").contains("ai-sysadmin-models.service"))
                #expect(unit.list("Unit", "Wants").contains("ai-sysadmin-models.service"))
                #expect(unit.value("Service", "NotifyAccess") == "main", "its status line says what it waits for")
            }
            let main = try evaluation.unit("ai-sysadmin-ai")
            #expect(main.value("Service", "TimeoutStartSec") == nil, "the daemon is ready without waiting for the models")
        }

        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func modelsGivenAsPathsOrDerivationsAreUsedAsTheyAre() throws {
            let evaluation = try Self.evaluate("modelsByPath")
            #expect(evaluation.units["ai-sysadmin-models.service"] == nil, "nothing to download")
            for fragment in ["/srv/models/tiny.gguf", "-review.gguf", "/srv/models/meta.gguf"] {
                #expect(try evaluation.settingsJSON.contains(fragment), "\(fragment)")
            }
            try expectConfigCheckPasses(evaluation, "modelsByPath")
        }

        /// Defect: a model given both as a name and as a path failed with a type error that did not say what to do.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func aModelGivenTwiceIsNamedWithTheFix() throws {
            let failure = try Self.failure("twoModels")
            #expect(failure.contains("services.ai-sysadmin.llamacpp.metaModel.model' is set to more than one model: "), "\(failure)")
            #expect(failure.contains("qwen3:14b") && failure.contains("/srv/models/meta.gguf") && failure.contains("keep one definition"), "\(failure)")
        }

        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)),
              arguments: [
                ("exposedModel", "metaModel.host = \"0.0.0.0\" is not loopback"),
                ("samePorts", "need distinct ports"),
                ("authWithoutKey", "requireAuth needs openaiApi.apiKeyFile"),
                ("ollama", "llama.cpp now, not Ollama"),
                ("gotifyWithoutToken", "gotify needs both url and tokenFile"),
                ("doorsExposed", "console.enable with openaiApi.host = \"0.0.0.0\" needs openaiApi.requireAuth"),
                ("consoleWithoutApi", "console is served by the API: it needs openaiApi.enable"),
                ("fleetWithoutPassword", "store.postgresql needs both url and passwordFile"),
                // Defect: nixpkgs refuses CUDA without allowUnfree; the module says so and how.
                ("cudaWithoutUnfree", "nixpkgs.config.allowUnfree = true"),
              ])
        func unsafeOrStaleConfigurationsFailEvaluation(_ name: String, _ message: String) throws {
            let failure = try Self.failure(name)
            #expect(failure.contains(message), "\(failure)")
        }

        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func keysTravelAsCredentialsAndWarningsNameTheRisk() throws {
            let withFile = try Self.evaluate("authWithKeyFile")
            #expect(withFile.warnings.isEmpty && withFile.firewall == [40083])
            let api = try withFile.unit("ai-sysadmin-api")
            #expect(api.values("Service", "LoadCredential") == ["model-key:/run/ai-sysadmin-keys/model-key", "api-keys:/run/secrets/api-keys"])
            let exec = try #require(api.value("Service", "ExecStart"))
            #expect(exec.hasSuffix("--api-key-file %d/api-keys") && !exec.contains("/run/secrets"))

            let operators = try Self.evaluate("operatorKeys").unit("ai-sysadmin-api")
            #expect(operators.values("Service", "LoadCredential").contains("operator-keys:/run/secrets/operator-keys"))
            #expect(operators.value("Service", "ExecStart")?.hasSuffix("--operator-key-file %d/operator-keys") == true)

            #expect(try Self.evaluate("keyInStore").warnings.contains { $0.contains("world-readable Nix store") })
            #expect(try Self.evaluate("openOnNetwork").warnings.contains { $0.contains("without requireAuth") })
            _ = try Self.evaluate("exposedModelAllowed")
            #expect(try Self.evaluate("named").units["macha-ai.service"] != nil)
        }

        /// Defect: a path literal (`apiKeyFile = /run/secrets/api-keys;`) became `LoadCredential=api-keys:/nix/store/…`:
        /// the secret was copied into the world-readable store (or, where it does not exist, evaluation failed).
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func aSecretGivenAsAPathLiteralStaysOutOfTheStore() throws {
            let evaluation = try Self.evaluate("keyFileAsPathLiteral")
            let api = try evaluation.unit("ai-sysadmin-api")
            #expect(api.values("Service", "LoadCredential").contains("api-keys:/run/secrets/api-keys"), "\(api.values("Service", "LoadCredential"))")
            #expect(try evaluation.settingsJSON.contains(#""files":["/var/log/app.log"]"#))
            #expect(!evaluation.units.values.contains { $0.contains("/nix/store") && $0.contains("-api-keys") })
        }

        /// Defects: with `llamacpp.enable = false` (remote models) the loopback and distinct-port assertions still
        /// applied, an IPv6 host was written without brackets, and the (CUDA) llama.cpp build was still referenced.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func remoteModelsAreWhereverTheyAre() throws {
            let remote = try Self.evaluate("remoteModels")
            #expect(Set(remote.units.keys) == ["ai-sysadmin-keys.service", "ai-sysadmin-api.service", "ai-sysadmin-ai.service"])
            let settings = try remote.settingsJSON
            #expect(settings.contains(#""url":"http://[fd00::7]:8080""#) && settings.contains(#""url":"http://10.0.0.5:8080""#), "\(settings)")
            #expect(settings.contains(#""backend":"remote""#) && !settings.contains(#""backend":"external""#))
            try expectConfigCheckPasses(remote, "remoteModels")

            let cudaRemote = try Self.evaluate("noLlamaUnits")
            #expect(try !cudaRemote.settingsJSON.contains("llama-cpp"), "remote models pull no llama.cpp build into the system")
        }

        /// Defect: the module refused 127.0.0.2 and ::1, which the daemon accepts. One rule: for each host, the module
        /// evaluates exactly when the daemon's `config check` accepts it.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func theModuleAndTheDaemonAgreeOnWhatIsLoopback() throws {
            let daemon = try TestEnvironment.daemonExecutable()
            let pkgs = "import \(TestEnvironment.repositoryRoot)/Tests/Nix/pkgs.nix { }"
            for host in ["127.0.0.1", "127.0.0.2", "127.255.0.9", "::1", "[::1]", "localhost", "0.0.0.0", "10.0.0.5", "::", "128.0.0.1", "localhost.example.org"] {
                let module = "{ ... }: { services.ai-sysadmin = { enable = true; llamacpp.metaModel.host = \"\(host)\"; }; }"
                let moduleAccepts = (try? Self.evaluate(configuration: module, extraPkgs: pkgs)) != nil
                var config = DaemonConfiguration()
                config.stateDirectory = try TestEnvironment.temporaryDirectory("loopback")
                for layer in ModelLayer.allCases { config.models[layer].backend = .external }
                config.models.meta.host = host
                let file = config.stateDirectory + "/config.json"
                try config.encodedJSON().write(toFile: file, atomically: true, encoding: .utf8)
                let check = try TestEnvironment.runToCompletion(daemon, ["config", "check", file])
                let daemonAccepts = !check.stderr.contains("models.meta.host")
                #expect(moduleAccepts == daemonAccepts, "\(host): the module \(moduleAccepts ? "accepts" : "refuses"), the daemon \(daemonAccepts ? "accepts" : "refuses")")
            }
            _ = try Self.evaluate("ipv6Loopback")
        }

        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func withoutLlamaUnitsTheModelsAreRemote() throws {
            let evaluation = try Self.evaluate("noLlamaUnits")
            #expect(Set(evaluation.units.keys) == ["ai-sysadmin-keys.service", "ai-sysadmin-api.service", "ai-sysadmin-ai.service"])
            try expectConfigCheckPasses(evaluation, "noLlamaUnits")
        }

        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func autonomyNotificationsAndIntervalsReachTheDaemon() throws {
            let evaluation = try Self.evaluate("autonomy")
            #expect(evaluation.warnings.isEmpty)
            let settings = try evaluation.settingsJSON
            for fragment in [#""autonomyLevel":"auto-safe""#, #""protectedUnits":["postgresql.service","ai-sysadmin-ai.service"]"#,
                             #""intervalSeconds":300"#, #""files":["/var/log/app.log"]"#, #""url":"https://hooks.example.org/ai""#,
                             #""tokenFile":"/run/credentials/ai-sysadmin-ai.service/gotify-token""#] {
                #expect(settings.contains(fragment), "\(fragment) in \(settings)")
            }
            #expect(!settings.contains("/run/secrets"), "the token's path stays out of the store")
            let main = try evaluation.unit("ai-sysadmin-ai")
            #expect(main.values("Service", "LoadCredential") == ["model-key:/run/ai-sysadmin-keys/model-key", "gotify-token:/run/secrets/gotify-token"])
            try expectConfigCheckPasses(evaluation, "autonomy")
        }

        /// Signature overrides reach the daemon with only what was set; an id no signature has fails the check the
        /// build runs, naming it.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func signatureOverridesAndTheErrorRateReachTheDaemon() throws {
            struct Monitoring: Decodable, Equatable {
                struct Override: Decodable, Equatable { let enable: Bool; let severity: String?; let escalate: Bool? }
                struct ErrorRate: Decodable, Equatable { let enable: Bool; let windowSeconds: Double; let minimumBurst: Int; let factor: Double }
                let signatures: [String: Override]
                let errorRate: ErrorRate
            }
            struct Settings: Decodable { let monitoring: Monitoring }
            let evaluation = try Self.evaluate("judgment")
            let settings = try evaluation.settingsJSON
            #expect(try JSONDecoder().decode(Settings.self, from: Data(settings.utf8)).monitoring == Monitoring(
                signatures: ["auth-failure": .init(enable: false, severity: nil, escalate: nil), "time-jump": .init(enable: true, severity: "error", escalate: true)],
                errorRate: .init(enable: true, windowSeconds: 120, minimumBurst: 20, factor: 5)))
            #expect(!settings.contains("null"), "unset fields stay out: \(settings)")
            try expectConfigCheckPasses(evaluation, "judgment")

            let unknown = try Self.evaluate("unknownSignature")
            let file = try TestEnvironment.temporaryDirectory("nixcfg") + "/ai-sysadmin.json"
            try unknown.settingsJSON.write(toFile: file, atomically: true, encoding: .utf8)
            let check = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["config", "check", file])
            #expect(check.status != 0)
            #expect(check.stderr.contains("monitoring.signatures.no-such-signature"), "\(check.stderr)")
        }

        /// Chat is on by default under the id `ai-sysadmin`; it can be renamed, bounded, or turned off, which also
        /// takes the agent's id off the API.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
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
            #expect(try chat(Self.evaluate("default")) == Chat(api: .init(agentModelId: "ai-sysadmin"), chat: .init(enable: true, maxToolSteps: 4)))
            let renamed = try Self.evaluate("chatRenamed")
            #expect(try chat(renamed) == Chat(api: .init(agentModelId: "sysadmin"), chat: .init(enable: true, maxToolSteps: 2)))
            try expectConfigCheckPasses(renamed, "chatRenamed")
            let off = try Self.evaluate("noChat")
            #expect(try chat(off) == Chat(api: .init(agentModelId: nil), chat: .init(enable: false, maxToolSteps: 4)))
            try expectConfigCheckPasses(off, "noChat")
        }

        /// A fleet host's database reaches the daemon with its password as a credential, never in the store.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func aFleetHostsDatabaseAndPasswordReachTheDaemon() throws {
            let evaluation = try Self.evaluate("fleetHost")
            let settings = try evaluation.settingsJSON
            for fragment in [#""backend":"postgresql""#, #""url":"postgresql://ais_host_web1@db.example:5432/aisysadmin""#,
                             #""passwordFile":"/run/credentials/ai-sysadmin-ai.service/fleet-password""#, #""shareVerdicts":false"#] {
                #expect(settings.contains(fragment), "\(fragment) in \(settings)")
            }
            #expect(!settings.contains("/run/secrets"), "the password's path stays out of the store")
            let main = try evaluation.unit("ai-sysadmin-ai")
            #expect(main.values("Service", "LoadCredential").contains("fleet-password:/run/secrets/fleet-password"))
            try expectConfigCheckPasses(evaluation, "fleetHost")
            #expect(try Self.evaluate("default").settingsJSON.contains(#""store":{"backend":"sqlite"}"#))
        }

        /// README, "Many hosts": a client host runs its trigger and review models and thinks with the central host's meta
        /// model through its gateway: no llama-meta unit and no download of its model, the daemon and the gateway get
        /// that gateway's key as a credential of its own (the gateway never the per-boot key), requests name its model
        /// id; plain http to another host warns.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func aFleetClientThinksWithTheCentralHostsMetaModel() throws {
            let client = try Self.evaluate("fleetClient")
            #expect(Set(client.units.keys) == ["ai-sysadmin-keys.service", "ai-sysadmin-models.service", "llama-trigger.service",
                                               "llama-review.service", "ai-sysadmin-api.service", "ai-sysadmin-ai.service"])
            let settings = try client.settings
            let meta = try #require((settings["models"] as? [String: Any])?["meta"] as? [String: Any])
            #expect(meta["backend"] as? String == "remote" && meta["url"] as? String == "https://gpu.example.org"
                        && meta["alias"] as? String == "ai-sysadmin-meta" && meta["apiKeyFile"] == nil, "\(meta)")
            #expect(try !client.settingsJSON.contains("/run/secrets"), "key paths stay out of the store")
            let downloads = try #require(try client.unit("ai-sysadmin-models").value("Service", "ExecStart"))
            #expect(downloads.contains("qwen3:1b qwen3:4b") && !downloads.contains("qwen3:14b"), "\(downloads)")

            let daemon = try client.unit("ai-sysadmin-ai")
            #expect(daemon.value("Service", "ExecStart")?.hasSuffix("--model-key-file %d/model-key --meta-key-file %d/meta-model-key") == true)
            #expect(daemon.values("Service", "LoadCredential").contains("meta-model-key:/run/secrets/fleet-api-key"))
            #expect(!daemon.list("Unit", "Wants").contains("llama-meta.service"))
            let gateway = try client.unit("ai-sysadmin-api")
            #expect(gateway.value("Service", "ExecStart")?.hasSuffix("--meta-key-file %d/meta-model-key") == true)
            #expect(gateway.values("Service", "LoadCredential") == ["meta-model-key:/run/secrets/fleet-api-key"],
                    "the per-boot key is this host's servers' only")
            #expect(!gateway.list("Unit", "After").contains("llama-meta.service") && gateway.list("Unit", "Requires").isEmpty)
            #expect(client.warnings.isEmpty, "\(client.warnings)")
            try expectConfigCheckPasses(client, "fleetClient")

            #expect(try Self.evaluate("fleetClientInClear").warnings.contains { $0.contains("metaModel is reached by plain http on another host") })
            #expect(try Self.evaluate("remoteOnLoopback").warnings.isEmpty, "[::1], localhost and 127.0.0.1 with ports are loopback")
            #expect(try Self.failure("remoteKeyWithoutUrl").contains("metaModel.apiKeyFile is the key of a model served elsewhere: it needs `url`"))
        }

        /// A model given by a name the catalog does not have fails the system's build, with the names there are (the
        /// module's build step runs `models check` on its named models); before, the download unit failed every minute
        /// and the model's unit waited for ever. A configuration outside NixOS whose `external` layer names one fails
        /// `config check` the same way.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func aModelNameNobodyCanDownloadFailsTheBuild() throws {
            let daemon = try TestEnvironment.daemonExecutable()
            for (name, checks) in [("unknownModelName", true), ("default", true), ("modelsByPath", false)] {
                let start = try #require(try Self.evaluate(name).unit("ai-sysadmin-ai").value("Service", "ExecStart"))
                #expect(start.contains("-ai-sysadmin-config.json-names-checked ") == checks, "\(name): the build step checks its names: \(start)")
            }
            let downloads = try #require(try Self.evaluate("unknownModelName").unit("ai-sysadmin-models").value("Service", "ExecStart"))
            let names = try #require(downloads.components(separatedBy: "models pull ").last?.components(separatedBy: " --config").first)
            let checked = try TestEnvironment.runToCompletion(daemon, ["models", "check"] + names.split(separator: " ").map(String.init))
            #expect(checked.status != 0 && checked.stderr.contains("unknown model name 'qwen3:32b'; known: ") && checked.stderr.contains("qwen3:14b, qwen3:1b")
                        && !checked.stderr.contains("'qwen3:1b'"), "\(names): \(checked.stderr)")
            #expect(try TestEnvironment.runToCompletion(daemon, ["models", "check", "qwen3:1b", "qwen3:4b", "qwen3:14b"]).status == 0)

            var config = DaemonConfiguration()
            config.stateDirectory = try TestEnvironment.temporaryDirectory("names")
            for layer in ModelLayer.allCases { config.models[layer].backend = .external }
            config.models.meta.model = "qwen3:32b"
            let file = config.stateDirectory + "/config.json"
            try config.encodedJSON().write(toFile: file, atomically: true, encoding: .utf8)
            let check = try TestEnvironment.runToCompletion(daemon, ["config", "check", file])
            #expect(check.status != 0 && check.stderr.contains("models.meta.model: 'qwen3:32b' is neither a name of the built-in catalog"),
                    "\(check.stderr)")
            #expect(!check.stderr.contains("models.review.model"), "a known name without its file yet is fine: \(check.stderr)")
        }

        /// README, "Many hosts": the central host serves its meta model to the fleet behind keys and keeps the fleet's
        /// database up to date with a oneshot of its own, after PostgreSQL, as the cluster's administrator.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func theCentralHostKeepsTheFleetsDatabase() throws {
            let central = try Self.evaluate("fleetCentral")
            let database = try central.unit("ai-sysadmin-fleet-database")
            let start = try #require(database.value("Service", "ExecStart"))
            #expect(start.hasSuffix("-ai-sysadmin-fleet-database aisysadmin host:gpu host:web1 host:web2 operator:alice"), "\(start)")
            #expect(database.value("Service", "User") == "postgres" && database.value("Service", "Type") == "oneshot")
            #expect(database.list("Unit", "Requires") == ["postgresql.service"] && database.list("Unit", "After").contains("postgresql.service"))
            let environment = database.values("Service", "Environment")
            #expect(environment.contains { $0.hasPrefix(#""PATH="#) && $0.contains("-postgresql/bin") }, "\(environment)")
            #expect(central.firewall == [40083])
            #expect(try central.settingsJSON.contains(#""requireAuth":true"#))
            // Defect: the build-time check refused every requireAuth configuration, its keys being credentials the
            // units get at start; the module runs it with --key-files-at-start (it asserts the keys are configured).
            try expectConfigCheckPasses(central, "fleetCentral")
            #expect(environment.contains(#""PGPORT=5433""#), "the socket of the server's own port: \(environment)")

            #expect(try Self.failure("fleetDatabaseWithoutPostgresql").contains("fleet.database needs services.postgresql.enable"))
            #expect(try Self.failure("fleetOperatorNamedLikeAHost").contains(#"operators: "ais_host_web1" is not usable"#))
        }

        /// The version MCP clients and `--version` see is the package's.
        @Test func theBinaryReportsThePackagesVersion() throws {
            let package = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/nix/package.nix", encoding: .utf8)
            let declared = try #require(package.firstMatch(of: /version = "([^"]+)";/)?.1)
            let reported = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["--version"])
            #expect(reported.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(declared))
        }

        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func theConsoleAndMCPAreOffByDefaultAndReachTheConfiguration() throws {
            struct Doors: Decodable, Equatable {
                struct Door: Decodable, Equatable { let enable: Bool }
                let console: Door
                let mcp: Door
            }
            func doors(_ evaluation: Evaluation) throws -> Doors {
                try JSONDecoder().decode(Doors.self, from: Data(evaluation.settingsJSON.utf8))
            }
            #expect(try doors(Self.evaluate("default")) == Doors(console: .init(enable: false), mcp: .init(enable: false)))
            let loopback = try Self.evaluate("doors")
            #expect(try doors(loopback) == Doors(console: .init(enable: true), mcp: .init(enable: true)))
            try expectConfigCheckPasses(loopback, "doors")
            // On a network address with keys (the gateway reads them from its credentials, not from this file).
            #expect(try doors(Self.evaluate("doorsExposedWithKeys")) == Doors(console: .init(enable: true), mcp: .init(enable: true)))
        }

        // MARK: systemd's own checks

        /// Every rendered unit of the cases goes through `systemd-analyze verify`, with executables at the ExecStart
        /// paths (a stand-in store in a temporary directory), and `systemd-analyze security`, whose exposure scores
        /// are printed; none may be worse than MEDIUM, and the keys unit must be OK.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)), arguments: ["default", "cuda", "named", "operatorKeys", "noLlamaUnits", "autonomy", "fleetClient", "fleetCentral"])
        func theRenderedUnitsPassSystemdAnalyze(_ name: String) throws {
            let analyze = "/usr/bin/systemd-analyze"
            try #require(FileManager.default.isExecutableFile(atPath: analyze), "systemd-analyze is missing; scripts/setup installs systemd")
            let store = try TestEnvironment.temporaryDirectory("nixstore")
            let evaluation = try Self.evaluate(name, fakeStore: store)
            let directory = try TestEnvironment.temporaryDirectory("nixunits")
            for (unit, text) in evaluation.units {
                try text.write(toFile: directory + "/" + unit, atomically: true, encoding: .utf8)
                for exec in UnitFile(text).values("Service", "ExecStart") {
                    guard let program = exec.split(separator: " ").first.map(String.init), program.hasPrefix(store) else { continue }
                    try FileManager.default.createDirectory(atPath: (program as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try "#!/bin/sh\nexit 0\n".write(toFile: program, atomically: true, encoding: .utf8)
                    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: program)
                }
            }
            let units = evaluation.units.keys.sorted().map { directory + "/" + $0 }
            let verified = try TestEnvironment.runToCompletion(analyze, ["verify"] + units)
            // Users and groups of the module do not exist on the test machine; that is all systemd may say.
            let complaints = verified.stderr.split(separator: "\n").filter { !$0.contains("Failed to resolve") }
            #expect(verified.status == 0 || complaints.isEmpty, "\(name): systemd-analyze verify: \(verified.stderr)")
            #expect(complaints.isEmpty, "\(name): \(complaints)")

            var scores: [String] = []
            for unit in units {
                let security = try TestEnvironment.runToCompletion(analyze, ["security", "--offline=true", "--no-pager", unit])
                let line = try #require(security.stdout.split(separator: "\n").last { $0.contains("Overall exposure level") },
                                        "\(unit): \(security.stderr)")
                let score = try #require(Double(line.split(separator: " ").first { Double($0) != nil } ?? ""))
                let name = (unit as NSString).lastPathComponent
                scores.append("\(name) \(score) \(line.split(separator: " ").last ?? "")")
                #expect(score <= 6.9, "\(name) is exposed: \(line)")
                if name == "ai-sysadmin-keys.service" { #expect(score < 5, "the keys unit does one thing as root: \(line)") }
            }
            print("systemd-analyze security (\(name)): " + scores.joined(separator: "; "))
        }

        // MARK: The polkit rule

        /// The module's polkit rule is the one the executor's own policy gives (`ai-sysadmin polkit-rule`, built from
        /// the same file), at an autonomy level that acts and at observe.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func thePolkitRuleIsTheExecutorsOwn() throws {
            for name in ["autonomy", "observe"] {
                let evaluation = try Self.evaluate(name)
                let file = try TestEnvironment.temporaryDirectory("nixrule") + "/ai-sysadmin.json"
                try evaluation.settingsJSON.write(toFile: file, atomically: true, encoding: .utf8)
                let generated = try TestEnvironment.runToCompletion(try TestEnvironment.daemonExecutable(), ["polkit-rule", "--config", file])
                #expect(generated.status == 0, "\(generated.stderr)")
                #expect(evaluation.polkit == generated.stdout, "\(name): the module's rule differs from `ai-sysadmin polkit-rule`")
            }
        }

        /// Defect: at every level but observe the rendered rule let the daemon's user start poweroff.target and stop
        /// firewall.service or sshd.socket. Run under Node.js: exactly the model units' restarts and the services the
        /// executor may act on, nothing else.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func theRenderedPolkitRuleAllowsExactlyTheExecutorsSet() throws {
            let refused: [(String, String)] = [
                ("start", "poweroff.target"), ("start", "reboot.target"), ("start", "rescue.target"), ("start", "emergency.target"),
                ("start", "halt.target"), ("start", "kexec.target"), ("stop", "firewall.service"), ("stop", "nftables.service"),
                ("stop", "sshd.socket"), ("stop", "dbus.socket"), ("stop", "systemd-journald.socket"), ("stop", "-.mount"),
                ("stop", "var.mount"), ("stop", "swap.target"), ("stop", "multi-user.target"), ("stop", "getty@tty1.service"),
                ("restart", "ai-sysadmin-ai.service"), ("reload", "sshd.service"),
                ("reset-failed", "systemd-journald.service"), ("kill", "nginx.service"), ("set-property", "nginx.service"),
            ]
            let allowed: [(String, String)] = [
                ("start", "nginx.service"), ("stop", "nginx.service"), ("restart", "app@worker.service"), ("reload", "nginx.service"),
                ("reset-failed", "nginx.service"), ("restart", "llama-meta.service"),
            ]
            for name in ["default", "autonomy"] {
                let rule = try Self.evaluate(name).polkit
                let answers = try PolkitRule.run(rule, (refused + allowed).map { .init(unit: $0.1, verb: $0.0) })
                for (index, pair) in (refused + allowed).enumerated() {
                    let expected = index < refused.count ? "NO" : "YES"
                    #expect(answers[index] == expected, "\(name): \(pair.0) \(pair.1) is \(answers[index]), expected \(expected)")
                }
            }
            // The configuration's own protected units are refused too.
            #expect(try PolkitRule.run(Self.evaluate("autonomy").polkit, [.init(unit: "postgresql.service", verb: "restart")]) == ["NO"])
            #expect(try PolkitRule.run(Self.evaluate("default").polkit, [.init(unit: "postgresql.service", verb: "restart")]) == ["YES"])
            let observe = try Self.evaluate("observe").polkit
            let answers = try PolkitRule.run(observe, allowed.map { .init(unit: $0.1, verb: $0.0) })
            #expect(answers == ["NO", "NO", "NO", "NO", "NO", "YES"], "at observe only the model units' restarts")
        }

        // MARK: The flake and the package

        /// The flake exports the package, an overlay and the module; the module from the flake needs no `package`.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func theFlakeExportsThePackageAnOverlayAndTheModule() throws {
            struct Summary: Decodable {
                struct Package: Decodable { let pname: String; let depsHash: String; let mainProgram: String; let nativeBuildInputs: [String]; let buildInputs: [String] }
                let packages: [String]
                let package: Package
                let overlay: [String]
                let overlayPackage: String
                let nixosModules: [String]
            }
            let check = TestEnvironment.repositoryRoot + "/Tests/Nix/flake-check.nix"
            let result = try TestEnvironment.runToCompletion(Self.nixInstantiate, ["--eval", "--strict", "--json", check, "-A", "summary"])
            try #require(result.status == 0, "\(result.stderr)")
            let summary = try JSONDecoder().decode(Summary.self, from: Data(result.stdout.utf8))
            #expect(summary.packages == ["ai-sysadmin", "default"] && summary.overlay == ["ai-sysadmin"] && summary.overlayPackage == "ai-sysadmin-0.1.0")
            #expect(summary.nixosModules == ["ai-sysadmin", "default"] && summary.package.mainProgram == "ai-sysadmin")
            #expect(summary.package.nativeBuildInputs.contains { $0.hasSuffix("-swiftpm") } && summary.package.buildInputs.count == 3)

            let evaluation = try Self.evaluate(configuration: "{ services.ai-sysadmin.enable = true; }",
                                               extraPkgs: "(import \(check) { }).packageStandIns", module: "(import \(check) { }).nixosModule")
            #expect(try evaluation.unit("ai-sysadmin-ai").value("Service", "ExecStart")?.contains("-ai-sysadmin-0.1.0/bin/ai-sysadmin run ") == true,
                    "the flake's module runs the flake's package without `package =`")
        }

        /// `scripts/nix-deps-hash` reproduces the hash nix/package.nix pins, so a dependency bump can never leave a
        /// stale one behind.
        @Test(.enabled(if: evalNix != nil, Comment(rawValue: reason)))
        func thePinnedDependencyHashIsPackageResolveds() throws {
            let check = TestEnvironment.repositoryRoot + "/Tests/Nix/flake-check.nix"
            let pinned = try TestEnvironment.runToCompletion(Self.nixInstantiate, ["--eval", "--strict", "--json", check, "-A", "summary.package.depsHash"])
            try #require(pinned.status == 0, "\(pinned.stderr)")
            let computed = try TestEnvironment.runToCompletion(TestEnvironment.repositoryRoot + "/scripts/nix-deps-hash", [])
            try #require(computed.status == 0, "\(computed.stderr)")
            #expect(pinned.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\"\(computed.stdout.trimmingCharacters(in: .whitespacesAndNewlines))\"",
                    "nix/package.nix pins \(pinned.stdout) but Package.resolved gives \(computed.stdout): update swiftpmDeps.hash")
        }

        /// The script against a case built by hand: a repository with an executable, a subdirectory and a .gitmodules
        /// without gitlinks (as GRDB.swift has), pinned in a Package.resolved; the expected tree is written without git.
        @Test func theDependencyHashScriptHashesWhatNixPrefetchGitWouldLeave() throws {
            let directory = try TestEnvironment.temporaryDirectory("depshash")
            let repository = directory + "/small.git"
            let files: [(String, String, Int)] = [("README.md", "hello\n", 0o644), ("bin/tool", "#!/bin/sh\necho tool\n", 0o755),
                                                  ("Sources/Small/Small.swift", "public let small = 1\n", 0o644),
                                                  (".gitmodules", "[submodule \"vendor\"]\n\tpath = vendor\n\turl = https://example.org/vendor.git\n", 0o644)]
            let git = "/usr/bin/git"
            func run(_ arguments: [String], in path: String) throws -> String {
                let result = try TestEnvironment.runToCompletion(git, ["-C", path] + arguments)
                try #require(result.status == 0, "git \(arguments): \(result.stderr)")
                return result.stdout
            }
            let work = directory + "/work"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            _ = try run(["init", "-q"], in: work)
            for (path, text, mode) in files {
                try FileManager.default.createDirectory(atPath: ((work + "/" + path) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: work + "/" + path, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: work + "/" + path)
            }
            _ = try run(["add", "."], in: work)
            _ = try run(["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "one"], in: work)
            let revision = try run(["rev-parse", "HEAD"], in: work).trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try run(["clone", "-q", "--bare", work, repository], in: directory)
            let resolved = directory + "/Package.resolved"
            try """
                {
                  "pins" : [
                    { "identity" : "small", "kind" : "remoteSourceControl", "location" : "file://\(repository)", "state" : { "revision" : "\(revision)", "version" : "1.0.0" } }
                  ],
                  "version" : 3
                }

                """.write(toFile: resolved, atomically: true, encoding: .utf8)

            // By hand: Package.resolved and the files at Packages/small, nothing else.
            let expected = directory + "/expected"
            try FileManager.default.createDirectory(atPath: expected + "/Packages/small", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: resolved, toPath: expected + "/Package.resolved")
            for (path, text, mode) in files {
                let target = expected + "/Packages/small/" + path
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: target, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
            }
            let byHand = try TestEnvironment.runToCompletion("/usr/bin/nix-hash", ["--type", "sha256", expected])
            try #require(byHand.status == 0, "\(byHand.stderr)")
            let hex = byHand.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let bytes = stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
            let expectedHash = "sha256-" + Data(bytes).base64EncodedString()

            let kept = directory + "/kept"
            let script = try TestEnvironment.runToCompletion(TestEnvironment.repositoryRoot + "/scripts/nix-deps-hash", ["--resolved", resolved, "--keep", kept])
            try #require(script.status == 0, "\(script.stderr)")
            #expect(script.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expectedHash, "kept in \(kept)")
            #expect(!FileManager.default.fileExists(atPath: kept + "/Packages/small/.git"))
        }
    }
}

/// Runs a polkit rules file under Node.js (Tests/Support/polkit-rule-check.js) against requests of the daemon's user.
enum PolkitRule {
    struct Request: Encodable {
        var id = "org.freedesktop.systemd1.manage-units"
        var user = "ai-sysadmin"
        var unit: String
        var verb: String
    }

    static func run(_ rule: String, _ requests: [Request]) throws -> [String] {
        let node = try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_TEST_NODE"].flatMap { $0.isEmpty ? nil : $0 },
                                "AI_SYSADMIN_TEST_NODE is not set; run the tests through scripts/test (scripts/setup installs nodejs)")
        let directory = try TestEnvironment.temporaryDirectory("polkit")
        try rule.write(toFile: directory + "/rule.js", atomically: true, encoding: .utf8)
        let result = try TestEnvironment.runToCompletion(node, [TestEnvironment.supportFile("polkit-rule-check.js"), directory + "/rule.js",
                                                               String(decoding: try JSONEncoder().encode(requests), as: UTF8.self)])
        try #require(result.status == 0, "node: \(result.stderr)")
        return try JSONDecoder().decode([String].self, from: Data(result.stdout.utf8))
    }
}
