// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "ai-sysadmin",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ai-sysadmin", targets: ["ai-sysadmin"]),
        .executable(name: "ai-sysadmin-api", targets: ["ai-sysadmin-api"]),
        .library(name: "UpstreamClient", targets: ["UpstreamClient"]),
        .library(name: "ModelSupervisor", targets: ["ModelSupervisor"]),
        .library(name: "APIGateway", targets: ["APIGateway"]),
        .library(name: "ModelFiles", targets: ["ModelFiles"]),
        .library(name: "Monitoring", targets: ["Monitoring"]),
        .library(name: "Store", targets: ["Store"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The gateway's HTTP server. Without its default traits: `FullFoundation` would link all of Foundation (with
        // ICU) into the gateway for a date formatter we never use, and we read no swift-configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // Hummingbird's own foundations, used directly where the gateway needs the HTTP/1 layer Hummingbird hides
        // (an HTTP/1.0 request's version decides whether its connection stays open), and for the proxy path: the
        // meta model's /v1 requests are answered on the connection's event loop over pooled upstream connections
        // with NIO's HTTP/1 client codec, because a request that crosses to a task and to libcurl's thread and back
        // costs several times what nginx spends on it (benchmarks/README.md). libcurl stays the client everywhere
        // else: the daemon's model calls, the agent socket, https upstreams.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        // The gateway's /metrics in Prometheus text format.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The embedded store: one SQLite file, WAL, versioned migrations (system libsqlite3).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // SHA-256 of downloaded model files.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The Model Context Protocol's official Swift SDK: the daemon's MCP server (JSON-RPC, lifecycle, tool and
        // resource types, the stateless streamable-HTTP transport). Pre-1.0, hence pinned to a minor version.
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", .upToNextMinor(from: "0.12.1")),
        // The fleet store: PostgreSQL's wire protocol (SCRAM, prepared statements, a connection pool) for the hosts of
        // a fleet writing to one database.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // TLS to the fleet's database: postgres-nio takes an NIOSSL context (it depends on swift-nio-ssl already).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C libraries, reached through pkg-config. Imported with `internal import` so no C type leaks.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // fork/exec with PR_SET_PDEATHSIG and a fresh process group. swift-subprocess has no pre-exec hook
        // for prctl, and without PDEATHSIG a SIGKILLed daemon would leave its llama-server children behind.
        .target(name: "_ProcessCShims"),

        // The daemon's configuration: its types, strict decoding, validation, model-name resolution, and where each
        // model server answers with the key it requires. Depends on nothing of ours, so every component can read
        // the configuration without linking the supervisor.
        .target(name: "SysadminConfiguration", swiftSettings: swiftSettings),
        // systemd's manager over sd-bus (unit state, jobs, relations) and sd_notify.
        .target(name: "Systemd", dependencies: ["CSystemd", "SysadminConfiguration"], swiftSettings: swiftSettings),
        // Child processes that die with the daemon (PR_SET_PDEATHSIG), their output, and the registry that finds
        // survivors of a crash.
        .target(
            name: "ChildProcesses",
            dependencies: ["_ProcessCShims", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The client of the model servers (libcurl on one thread) and the slots that share a server among callers.
        .target(name: "UpstreamClient", dependencies: ["CCurl", "SysadminConfiguration"], swiftSettings: swiftSettings),
        // Starts, probes, restarts and reports the model servers and the gateway; the control socket. Its status
        // carries Layer 1's backlog, hence Monitoring.
        .target(
            name: "ModelSupervisor",
            dependencies: [
                "ChildProcesses",
                "Monitoring",
                "_ProcessCShims",
                "SysadminConfiguration",
                "Systemd",
                "UpstreamClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the two OpenAI-compatible servers (the gateway, the daemon's agent socket) share: the error shape
        // OpenAI clients parse.
        .target(
            name: "OpenAIServer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "APIGateway",
            dependencies: [
                "OpenAIServer",
                "SysadminConfiguration",
                "UpstreamClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The operator's console: plain HTML, CSS and JavaScript compiled into the binary (no CDN, no build step).
            resources: [
                .embedInCode("OperatorDoors/Console/index.html"),
                .embedInCode("OperatorDoors/Console/console.js"),
                .embedInCode("OperatorDoors/Console/console.css"),
            ],
            swiftSettings: swiftSettings
        ),
        // The catalog of known model names and the resumable, verified downloader behind `ai-sysadmin models`.
        .target(
            name: "ModelFiles",
            dependencies: [
                "UpstreamClient",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Layer 1: log sources (sd_journal, files, dumps), template mining, rules, the trigger model's verdicts.
        // The built-in signatures are data (Signatures/signatures.json) compiled into the binary.
        .target(
            name: "Monitoring",
            dependencies: [
                "CSystemd",
                "SysadminConfiguration",
                "UpstreamClient",
            ],
            resources: [.embedInCode("Signatures/signatures.json")],
            swiftSettings: swiftSettings
        ),
        // Layers 3 and 4: the review, the analysis, and the one agent loop (bounded tool calls, native or schema-bound
        // steps) the analysis and the chat share.
        .target(
            name: "Reasoning",
            dependencies: [
                "Monitoring",
                "SysadminConfiguration",
                "UpstreamClient",
            ],
            swiftSettings: swiftSettings
        ),
        // What the layers remember: templates, verdicts, events, source cursors — behind a protocol, SQLite first.
        .target(
            name: "Store",
            dependencies: [
                "Monitoring",
                "Reasoning",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // Layer 1 as a service of the daemon: sources, pipeline and store together.
        .target(
            name: "MonitoringService",
            dependencies: [
                "Reasoning",
                "Monitoring",
                "Store",
                "SysadminConfiguration",
                "Systemd",
                "UpstreamClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The closed set of typed actions, their validation, their plans (argv / D-Bus, never a shell), the
        // executor that runs and verifies them, and the autonomy policy.
        // The unit policy is data (Policy/unit-policy.json) compiled into the binary, so the executor and the polkit
        // rules generated from the same file (`ai-sysadmin polkit-rule`, module.nix) cannot drift apart.
        .target(
            name: "Autonomy",
            dependencies: ["ChildProcesses", "SysadminConfiguration", "Systemd"],
            resources: [.embedInCode("Policy/unit-policy.json"), .embedInCode("Policy/polkit-rule.js")],
            swiftSettings: swiftSettings
        ),
        // Gotify and webhook notifications, delivered in the background with retries.
        .target(
            name: "Notifications",
            dependencies: [
                "SysadminConfiguration",
                "UpstreamClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The executor as a service of the daemon: proposals → validation → policy → ledger → execution → audit.
        .target(
            name: "ActionService",
            dependencies: [
                "Autonomy",
                "Notifications",
                "Store",
                "SysadminConfiguration",
                "Systemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Chat with the sysadmin: the agent (persona, context, bounded tool loop, proposals to the executor) and its
        // OpenAI-compatible endpoint on the daemon's Unix socket (Hummingbird, like the gateway it sits behind).
        .target(
            name: "Chat",
            dependencies: [
                "Autonomy",
                "Monitoring",
                "MonitoringService",
                "OpenAIServer",
                "Reasoning",
                "Store",
                "SysadminConfiguration",
                "UpstreamClient",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The operator's two doors on the daemon's socket, which the gateway forwards behind its keys: the console's
        // data (a snapshot, its live stream, approve/reject) and the MCP server (resources, the look-ups, `ask`,
        // `propose_action`).
        .target(
            name: "OperatorAPI",
            dependencies: [
                "ActionService",
                "Autonomy",
                "Chat",
                "ModelSupervisor",
                "Monitoring",
                "MonitoringService",
                "Reasoning",
                "Store",
                "SysadminConfiguration",
                "Systemd",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MCP", package: "swift-sdk"),
            ],
            swiftSettings: swiftSettings
        ),
        // The fleet: each host's SQLite store published to one PostgreSQL database (row-level security per host), and
        // what the fleet's operators read from it.
        .target(
            name: "Fleet",
            dependencies: [
                "Monitoring",
                "Store",
                "SysadminConfiguration",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Logging bootstrap and failure exits shared by the executables (and only by them).
        .target(
            name: "CommandSupport",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ai-sysadmin-api",
            dependencies: [
                "APIGateway",
                "CommandSupport",
                "SysadminConfiguration",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ai-sysadmin",
            dependencies: [
                "ActionService",
                "Autonomy",
                "Chat",
                "ChildProcesses",
                "CommandSupport",
                "Fleet",
                "ModelFiles",
                "ModelSupervisor",
                "Monitoring",
                "MonitoringService",
                "Notifications",
                "OperatorAPI",
                "Reasoning",
                "Store",
                "SysadminConfiguration",
                "Systemd",
                "UpstreamClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Sockets, polling with deadlines and gates shared by the test targets.
        .target(
            name: "TestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "UpstreamClientTests",
            dependencies: ["SysadminConfiguration", "TestSupport", "UpstreamClient"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SysadminConfigurationTests",
            dependencies: ["SysadminConfiguration"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ModelSupervisorTests",
            dependencies: ["ChildProcesses", "ModelSupervisor", "SysadminConfiguration", "Systemd", "TestSupport", "UpstreamClient"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "APIGatewayTests",
            dependencies: [
                "APIGateway", "OpenAIServer", "SysadminConfiguration", "TestSupport", "UpstreamClient",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AutonomyTests",
            dependencies: [
                "ActionService", "Autonomy", "Store", "SysadminConfiguration", "Systemd", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OperatorAPITests",
            dependencies: ["Monitoring", "OperatorAPI", "Store", .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ChatTests",
            dependencies: ["Chat", "Store", "SysadminConfiguration", "UpstreamClient"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReasoningTests",
            dependencies: ["Monitoring", "Reasoning", "SysadminConfiguration", "UpstreamClient"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StoreTests",
            dependencies: ["Monitoring", "Store", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MonitoringTests",
            dependencies: ["Monitoring", "SysadminConfiguration", "TestSupport", "UpstreamClient"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ModelFilesTests",
            dependencies: ["ModelFiles", "SysadminConfiguration"],
            swiftSettings: swiftSettings
        ),
        // Talks to a real llama-server with the SmolLM2-135M test model (scripts/setup provides both).
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "ActionService",
                "APIGateway",
                "Autonomy",
                "Chat",
                "Fleet",
                "ModelFiles",
                "Monitoring",
                "MonitoringService",
                "Notifications",
                "Reasoning",
                "Store",
                .product(name: "Crypto", package: "swift-crypto"),
                "ChildProcesses",
                "ModelSupervisor",
                "SysadminConfiguration",
                "Systemd",
                "TestSupport",
                "UpstreamClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
