import Foundation
@testable import SysadminConfiguration
import Testing

@Suite struct ConfigurationTests {
    private func decode(_ json: String) throws(ConfigurationError) -> DaemonConfiguration {
        try DaemonConfiguration.decode(Data(json.utf8), file: "test.json")
    }

    private func expectError(_ json: String, keyPath: String, containing text: String,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try decode(json)
            Issue.record("expected an error at \(keyPath)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.keyPath == keyPath, sourceLocation: sourceLocation)
            #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func emptyFileMeansEveryDefault() throws {
        let config = try decode("{}")
        #expect(config == DaemonConfiguration())
        #expect(config.models.trigger.port == 40080 && config.models.review.port == 40081 && config.models.meta.port == 40082)
        #expect(config.models.meta.contextSize == 131072)
        #expect(config.models.trigger.host == "127.0.0.1")
    }

    @Test func partialLayerKeepsTheLayersOtherDefaults() throws {
        let config = try decode(#"{"models": {"review": {"port": 41000}}}"#)
        #expect(config.models.review.port == 41000)
        #expect(config.models.review.contextSize == 32768)
        #expect(config.models.review.model == "qwen3:4b")
    }

    @Test func exampleRoundTripsAndShowsEveryField() throws {
        let example = DaemonConfiguration().encodedJSON()
        #expect(try decode(example) == DaemonConfiguration())
        for key in ["stateDirectory", "llamaServer", "missesBeforeRestart", "crashLoopFailures", "gpuLayers", "threads",
                    "extraArgs", "apiKeyFile", "systemdUnit", "allowNonLoopback"] {
            #expect(example.contains("\"\(key)\""), "config example lacks \(key)")
        }
    }

    @Test func unknownKeysAreErrorsThatNameThePath() {
        expectError(#"{"stateDir": "/x"}"#, keyPath: "stateDir", containing: "unknown key 'stateDir'")
        expectError(#"{"models": {"trigger": {"contextsize": 1}}}"#, keyPath: "models.trigger.contextsize",
                    containing: "contextSize")
        expectError(#"{"models": {"metta": {}}}"#, keyPath: "models.metta", containing: "known keys here: meta, review, trigger")
    }

    @Test func wrongTypesNameKeyAndExpectedType() {
        expectError(#"{"models": {"meta": {"port": "40082"}}}"#, keyPath: "models.meta.port", containing: "expected a whole number")
        expectError(#"{"models": {"meta": {"backend": "docker"}}}"#, keyPath: "models.meta.backend",
                    containing: "'docker' is not a backend; use one of: managed, external, remote")
        expectError("{not json", keyPath: "", containing: "not valid JSON")
    }

    @Test func unreadableFileIsNamed() {
        #expect {
            _ = try DaemonConfiguration.load(from: "/nonexistent/config.json")
        } throws: { "\($0)" == "cannot read configuration file /nonexistent/config.json: No such file or directory" }
        #expect {
            _ = try DaemonConfiguration.load(from: "/tmp")
        } throws: { "\($0)" == "cannot read configuration file /tmp: Is a directory" }
    }

    @Test func pathsJoinAndSplitTheWayTheConfigurationWritesThem() {
        #expect(FilePaths.join("/var/lib/ai-sysadmin", "agent.sock") == "/var/lib/ai-sysadmin/agent.sock")
        #expect(FilePaths.join("/var/lib/ai-sysadmin//", "keys/meta.key") == "/var/lib/ai-sysadmin/keys/meta.key")
        #expect(FilePaths.join("/", "models") == "/models")
        #expect(FilePaths.join("state", "models") == "state/models")
        #expect(FilePaths.join("", "models") == "models")
        #expect(FilePaths.directory(of: "/nix/store/x-ai-sysadmin/bin/ai-sysadmin") == "/nix/store/x-ai-sysadmin/bin")
        #expect(FilePaths.directory(of: "/ai-sysadmin") == "/")
        #expect(FilePaths.directory(of: "/keys/") == "/")
        #expect(FilePaths.directory(of: "state/keys/meta.key") == "state/keys")
        #expect(FilePaths.directory(of: "ai-sysadmin") == "")
        #expect(ModelReference.resolve("qwen3:1b", modelDirectory: "/models/") == "/models/qwen3-1b.gguf")
    }

    @Test func blanksAroundAKeyAreNotPartOfIt() {
        #expect(" \tsk-1 \t".trimmingBlanks() == "sk-1")
        #expect("sk 1".trimmingBlanks() == "sk 1")
        #expect(" \t ".trimmingBlanks() == "")
        #expect("".trimmingBlanks() == "")
    }
}

@Suite struct ConfigurationValidatorTests {
    /// A configuration whose every check passes: real (empty) model file, an executable for llama-server.
    private func validConfig() throws -> (DaemonConfiguration, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("validator-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let model = directory + "/tiny.gguf"
        _ = FileManager.default.createFile(atPath: model, contents: Data("GGUF".utf8))
        var config = DaemonConfiguration()
        config.stateDirectory = directory
        config.llamaServer = "/bin/true"
        config.api.executable = "/bin/true"
        for layer in ModelLayer.allCases { config.models[layer].model = model }
        return (config, directory)
    }

    @Test func aValidConfigurationHasNoIssues() throws {
        let (config, _) = try validConfig()
        #expect(ConfigurationValidator().validate(config) == [])
    }

    @Test func missingModelFileDisablesOnlyThatLayer() throws {
        var (config, directory) = try validConfig()
        config.models.review.model = "qwen3:4b"
        let issues = ConfigurationValidator().validate(config)
        #expect(issues.count == 1)
        #expect(issues.first?.keyPath == "models.review.model")
        #expect(issues.first?.layer == .review)
        #expect(issues.first?.message.contains("\(directory)/models/qwen3-4b.gguf does not exist") == true)
    }

    @Test func portClashIsFatalAndNamesBothLayers() throws {
        var (config, _) = try validConfig()
        config.models.meta.port = config.models.trigger.port
        let issues = ConfigurationValidator().validate(config)
        #expect(issues.map(\.keyPath) == ["models.meta.port"])
        #expect(issues.first?.layer == nil)
        #expect(issues.first?.message.contains("also the port of models.trigger") == true)
    }

    @Test func nonLoopbackHostNeedsExplicitOptIn() throws {
        var (config, _) = try validConfig()
        config.models.trigger.host = "0.0.0.0"
        let issues = ConfigurationValidator().validate(config)
        #expect(issues.map(\.keyPath) == ["models.trigger.host"])
        #expect(issues.first?.message.contains("allowNonLoopback") == true)
        config.models.trigger.allowNonLoopback = true
        #expect(ConfigurationValidator().validate(config) == [])
    }

    @Test func externalBackendIsHeldToTheSameExposureRule() throws {
        var (config, _) = try validConfig()
        config.models.meta.backend = .external
        config.models.meta.host = "192.0.2.10"
        #expect(ConfigurationValidator().validate(config).map(\.keyPath) == ["models.meta.host"])
    }

    @Test func remoteBackendNeedsAnHTTPURL() throws {
        var (config, _) = try validConfig()
        config.models.meta.backend = .remote
        #expect(ConfigurationValidator().validate(config).map(\.keyPath) == ["models.meta.url"])
        config.models.meta.url = "ftp://example"
        #expect(ConfigurationValidator().validate(config).map(\.keyPath) == ["models.meta.url"])
        config.models.meta.url = "http://127.0.0.1:9999"
        #expect(ConfigurationValidator().validate(config) == [])
    }

    @Test func missingLlamaServerBinaryIsNamed() throws {
        var (config, _) = try validConfig()
        config.llamaServer = "/nonexistent/llama-server"
        let issues = ConfigurationValidator().validate(config)
        #expect(issues.map(\.keyPath) == ["llamaServer"])
        #expect(issues.first?.message.contains("/nonexistent/llama-server") == true)
    }

    @Test func aSupervisedGatewayNeedsItsBinary() throws {
        var (config, _) = try validConfig()
        config.api.executable = "/nonexistent/ai-sysadmin-api"
        let issues = ConfigurationValidator().validate(config)
        #expect(issues.map(\.keyPath) == ["api.executable"])
        #expect(issues.first?.stopsTheDaemon == false)
        config.api.supervised = false
        #expect(ConfigurationValidator().validate(config) == [])
    }

    @Test func gatewayProblemsAreReportedButDoNotStopTheDaemon() throws {
        var (config, _) = try validConfig()
        config.api.port = config.models.meta.port
        config.api.requireAuth = true
        // Not unset here: no test may change the process environment while others spawn processes.
        try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_API_KEYS"] == nil, "run the tests without AI_SYSADMIN_API_KEYS")
        let issues = ConfigurationValidator().validate(config)
        #expect(issues.map(\.keyPath) == ["api.port", "api.requireAuth"])
        #expect(issues.allSatisfy { $0.gatewayOnly && !$0.stopsTheDaemon })
        #expect(issues.first?.message.contains("also the port of models.meta") == true)
    }

    /// Keys are what the gateway accepts: operator keys alone will do. At the NixOS module's build-time check the key
    /// files are credentials that do not exist yet: neither their absence nor the missing flags are a problem then.
    @Test func keysAreCheckedAsTheGatewayReadsThemExceptBeforeTheUnitsStart() throws {
        var (config, _) = try validConfig()
        config.api.requireAuth = true
        try #require(ProcessInfo.processInfo.environment["AI_SYSADMIN_API_KEYS"] == nil, "run the tests without AI_SYSADMIN_API_KEYS")
        #expect(ConfigurationValidator().validate(config).map(\.keyPath) == ["api.requireAuth"])
        #expect(ConfigurationValidator(keyFilesArriveAtStart: true).validate(config) == [])
        config.api.operatorKeyFile = "/dev/null"
        #expect(ConfigurationValidator().validate(config) == [])
        config.api.operatorKeyFile = "/run/credentials/ai-sysadmin-api.service/operator-keys"
        config.models.meta.backend = .remote
        config.models.meta.url = "https://gpu.example.org"
        config.models.meta.apiKeyFile = "/run/credentials/ai-sysadmin-ai.service/meta-model-key"
        #expect(ConfigurationValidator().validate(config).map(\.keyPath) == ["models.meta.apiKeyFile", "api.operatorKeyFile"])
        #expect(ConfigurationValidator(keyFilesArriveAtStart: true).validate(config) == [])
    }

    @Test func theConsoleAndMCPAreNeverOpenToANetworkWithoutKeys() throws {
        var (config, _) = try validConfig()
        config.console.enable = true
        config.mcp.enable = true
        #expect(ConfigurationValidator().validate(config) == [], "on loopback without keys: allowed")
        config.api.host = "0.0.0.0"
        let issues = ConfigurationValidator().validate(config)
        #expect(issues.map(\.keyPath) == ["console.enable", "mcp.enable"])
        #expect(issues.allSatisfy { $0.gatewayOnly && $0.message.contains("without keys") })
        config.api.requireAuth = true
        config.api.apiKeyFile = "/dev/null"
        #expect(ConfigurationValidator().validate(config) == [])
        #expect(try DaemonConfiguration.decode(Data(#"{"console": {"enable": true}, "mcp": {}}"#.utf8)).console.enable)
        #expect(throws: ConfigurationError.self) { try DaemonConfiguration.decode(Data(#"{"mcp": {"port": 40085}}"#.utf8)) }
    }

    @Test func aFleetStoreNeedsAHostRoleAndAPasswordFileNeverAPasswordInItsURL() throws {
        var (config, _) = try validConfig()
        config.store.backend = .postgresql
        #expect(ConfigurationValidator().validate(config).map(\.keyPath) == ["store.backend"])
        let passwordFile = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-\(UUID().uuidString).pw").path
        try "a-password-of-the-host-role".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        config.store.postgresql = PostgreSQLConfiguration(url: "postgresql://ais_host_web1@db.example:5433/fleet", passwordFile: passwordFile)
        #expect(ConfigurationValidator().validate(config) == [])
        #expect(config.store.postgresql?.hostID == "web1")
        // TLS with the certificate and the name checked unless the URL says otherwise.
        #expect(try config.store.postgresql?.address.get() == .init(role: "ais_host_web1", host: "db.example", port: 5433, database: "fleet",
                                                                    tls: .verifyFull(rootCertificates: nil)))
        for (options, mode) in [("?sslmode=disable", PostgreSQLConfiguration.TLSMode.disable), ("?sslmode=require", .require),
                                ("?sslmode=verify-ca&sslrootcert=/etc/fleet-ca.pem", .verifyCA(rootCertificates: "/etc/fleet-ca.pem")),
                                ("?sslrootcert=/etc/fleet-ca.pem", .verifyFull(rootCertificates: "/etc/fleet-ca.pem"))] {
            let address = try PostgreSQLConfiguration(url: "postgresql://ais_host_web1@db.example/fleet" + options, passwordFile: passwordFile).address.get()
            #expect(address.tls == mode, "\(options)")
        }
        for (url, problem) in [
            ("postgresql://ais_host_web1:secret@db.example/fleet", "holds a password"),
            ("mysql://ais_host_web1@db.example/fleet", "is not a postgresql://"),
            ("postgresql://ais_host_web1@db.example/", "names no database"),
            ("postgresql://ais_host_web1@db.example/fleet?sslmode=prefer", "is not one of disable, require, verify-ca, verify-full"),
            ("postgresql://ais_host_web1@db.example/fleet?sslrootcert=ca.pem", "must be an absolute path"),
            ("postgresql://ais_host_web1@db.example/fleet?sslmode=disable&sslrootcert=/etc/ca.pem", "read only with sslmode=verify-ca or verify-full"),
            ("postgresql://ais_host_web1@db.example/fleet?application_name=x", "only sslmode and sslrootcert are read"),
            ("postgresql://alice@db.example/fleet", "the role must be ais_host_<id>"),
            ("postgresql://ais_host_Web-1@db.example/fleet", "the role must be ais_host_<id>"),
        ] {
            config.store.postgresql?.url = url
            let issues = ConfigurationValidator().validate(config)
            #expect(issues.count == 1 && issues.first?.keyPath == "store.postgresql.url" && issues.first?.message.contains(problem) == true,
                    "\(url): \(issues)")
            #expect(issues.allSatisfy { $0.stopsTheDaemon })
        }
    }

    @Test func disabledLayersAreNotChecked() throws {
        var (config, _) = try validConfig()
        config.models.meta.enable = false
        config.models.meta.model = "/nope.gguf"
        config.models.meta.port = config.models.trigger.port
        #expect(ConfigurationValidator().validate(config) == [])
    }
}

@Suite struct ModelReferenceTests {
    @Test func pathsStayNamesResolveUnderTheModelDirectory() {
        #expect(ModelReference.resolve("/srv/m.gguf", modelDirectory: "/var/lib/x/models") == "/srv/m.gguf")
        #expect(ModelReference.resolve("./m.gguf", modelDirectory: "/d") == "./m.gguf")
        #expect(ModelReference.resolve("qwen3:14b", modelDirectory: "/d") == "/d/qwen3-14b.gguf")
        #expect(ModelReference.resolve("tiny.gguf", modelDirectory: "/d") == "/d/tiny.gguf")
    }
}
