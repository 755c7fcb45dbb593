import Logging
import ServiceLifecycle

/// One of the daemon's services, named in its log when it is asked to stop and once it has: the group stops them one
/// at a time, in reverse order, so a stop that hangs shows which service holds it (`journalctl -u …`), and an
/// operator watching `systemctl stop` sees it progress.
struct AnnouncedService: Service {
    let name: String
    let service: any Service
    let logger: Logger

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await service.run()
        } onGracefulShutdown: { [logger, name] in
            logger.info("stopping \(name)", metadata: ["ai.service": "\(name)"])
        }
        logger.info("\(name) stopped", metadata: ["ai.service": "\(name)"])
    }
}
