import APIGateway
import ArgumentParser
import CommandSupport
import FoundationEssentials
import Glibc
import Hummingbird
import Logging
import ServiceLifecycle
import SysadminConfiguration
import UnixSignals

@main
struct AISysadminAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ai-sysadmin-api",
        abstract: "The OpenAI-compatible gateway to the meta model, for Open WebUI, LibreChat, the openai SDKs and curl.",
        discussion: """
            Reads the `api` section of the daemon's configuration file (and the meta model's address and key). \
            API keys come from api.apiKeyFile, api.operatorKeyFile or AI_SYSADMIN_API_KEYS, never from the command line.
            """)

    @Option(help: ArgumentHelp("The daemon's JSON configuration file; without it, defaults apply.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Listen address (api.host).", valueName: "address"))
    var host: String?

    @Option(help: ArgumentHelp("Listen port (api.port).", valueName: "port"))
    var port: Int?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("State directory (stateDirectory), where the meta model's key is.", valueName: "dir"))
    var stateDirectory: String?

    @Option(name: .customLong("model-key-file"), help: ArgumentHelp("The per-boot key of the meta model server systemd runs on this host (models.meta.apiKeyFile when it is external; never sent to a remote one); under systemd a credential, %d/model-key.", valueName: "file"))
    var modelKeyFile: String?

    @Option(name: .customLong("meta-key-file"), help: ArgumentHelp("The meta model server's own key file, e.g. a central gateway's client key for a remote meta model (models.meta.apiKeyFile).", valueName: "file"))
    var metaKeyFile: String?

    @Option(name: .customLong("api-key-file"), help: ArgumentHelp("Client keys, one per line (api.apiKeyFile); under systemd a credential, %d/api-keys.", valueName: "file"))
    var apiKeyFile: String?

    @Option(name: .customLong("operator-key-file"), help: ArgumentHelp("Operator keys, one per line (api.operatorKeyFile); under systemd a credential, %d/operator-keys.", valueName: "file"))
    var operatorKeyFile: String?

    @Option(name: .customLong("log-level"), help: "The least severe log lines to print; every request is logged at info.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        // glibc gives each thread that allocates under contention an arena of its own and keeps what it freed;
        // a burst of connections would leave the gateway at several times its idle size for good. Two arenas
        // serve an event loop and a few tasks.
        GlibcHeap.limitArenas(to: 2)
        CommandSupport.bootstrapLogging(level: logLevel)
        let logger = Logger(label: "ai-sysadmin-api")
        var configuration: DaemonConfiguration
        do {
            configuration = try config.map { path throws(ConfigurationError) in try DaemonConfiguration.load(from: path) }
                ?? DaemonConfiguration()
        } catch {
            throw CommandSupport.fail("ai-sysadmin-api", ["\(error)"])
        }
        if let host { configuration.api.host = host }
        if let port { configuration.api.port = port }
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        configuration.applyKeyFiles(modelKeyFile: modelKeyFile, layerKeyFiles: metaKeyFile.map { [.meta: $0] } ?? [:])
        if let apiKeyFile { configuration.api.apiKeyFile = apiKeyFile }
        if let operatorKeyFile { configuration.api.operatorKeyFile = operatorKeyFile }

        let problems = ConfigurationValidator().validate(configuration).filter(\.gatewayOnly)
        guard problems.isEmpty else { throw CommandSupport.fail("ai-sysadmin-api", problems.map(\.description)) }
        let gateway: Gateway
        do {
            gateway = try Gateway(configuration: configuration, logger: logger)
        } catch {
            throw CommandSupport.fail("ai-sysadmin-api", ["\(error)"])
        }
        let application = gateway.makeApplication()
        let group = ServiceGroup(configuration: .init(
            services: [application, MemoryReturn(gateway: gateway)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Gives the heap memory a burst of requests left free back to the system once the gateway is quiet again, so
/// its resident size returns near its idle size instead of staying at its peak.
struct MemoryReturn: Service {
    let gateway: Gateway

    func run() async throws {
        var seen = gateway.requestsReceived
        var trimmed = true
        while true {
            // Shutting down (or cancelled) ends the service; swallowing that here would spin the loop forever.
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
            } catch {
                return
            }
            let received = gateway.requestsReceived
            let load = gateway.load
            if received != seen || load.inFlight > 0 || load.waiting > 0 {
                (seen, trimmed) = (received, false)
            } else if !trimmed {
                // Two quiet seconds after a burst.
                GlibcHeap.trim()
                trimmed = true
            }
        }
    }
}

/// glibc's heap tuning, looked up at run time: `<malloc.h>` is not in Swift's Glibc module, and a libc without
/// these functions (musl) simply goes without.
enum GlibcHeap {
    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    /// `M_ARENA_MAX` from `<malloc.h>`.
    private static let arenaMax: Int32 = -8

    static func limitArenas(to count: Int32) {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(arenaMax, count)
    }

    static func trim() {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
    }
}
