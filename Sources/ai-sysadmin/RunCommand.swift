import ActionService
import ArgumentParser
import Autonomy
import Chat
import CommandSupport
import Fleet
import Foundation
import Logging
import ModelSupervisor
import Monitoring
import MonitoringService
import Notifications
import OperatorAPI
import Reasoning
import ServiceLifecycle
import Store
import SysadminConfiguration
import Systemd
import UnixSignals
import UpstreamClient

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon in the foreground: supervise the trigger, review and meta model servers.",
        discussion: """
            Stops on SIGTERM or SIGINT after stopping every model server it started. Under systemd \
            (Type=notify) it reports READY=1 once every enabled model answers /health, and STATUS= on changes.
            """
    )

    @OptionGroup var options: DaemonOptions

    @Option(name: .customLong("log-level"), help: "The least severe log lines to print; child output is logged at info.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        CommandSupport.bootstrapLogging(level: logLevel)
        let logger = Logger(label: "ai-sysadmin")

        let configuration: DaemonConfiguration
        do {
            configuration = try options.load()
        } catch {
            throw CommandSupport.fail("ai-sysadmin", ["\(error)"])
        }
        // Problems that make the whole configuration unusable stop here, all of them at once; a problem of one
        // layer (its model file is missing) only marks that layer Failed once running.
        let fatal = (ConfigurationValidator().validate(configuration) + SignaturePack.problems(in: configuration.monitoring)).filter(\.stopsTheDaemon)
        guard fatal.isEmpty else { throw CommandSupport.fail("ai-sysadmin", fatal.map(\.description)) }
        let supervisor = ModelSupervisor(configuration: configuration, logger: logger)
        let store: SQLiteStore
        do {
            store = try SQLiteStore(path: configuration.storePath)
        } catch {
            throw CommandSupport.fail("ai-sysadmin", ["cannot open the store \(configuration.storePath): \(error)"])
        }
        let notifier = Notifier(configuration: configuration.notifications, logger: Logger(label: "ai-sysadmin.notifications"))
        let actions = ActionCoordinator(
            configuration: configuration, ledger: store, systemd: SdBusSystemdManager(busAddress: configuration.autonomy.systemdBusAddress),
            notifier: notifier.isEnabled ? notifier : nil, logger: Logger(label: "ai-sysadmin.actions"))
        // Failed units are read over D-Bus where systemd runs (or the configured bus); elsewhere they are not watched.
        let systemd = SdBusSystemdManager.available(address: configuration.autonomy.systemdBusAddress)
        let backlog = BacklogBoard()
        // Layer 1 asks the trigger model only when the supervisor reports it Ready, and at once when it is again.
        let triggerModel: @Sendable () -> TriggerStateMachine.ModelAvailability = {
            guard let trigger = supervisor.status().models.first(where: { $0.layer == .trigger }) else {
                return .unavailable("the trigger model has not reported yet")
            }
            if trigger.state == .ready { return .ready }
            return .unavailable("it is \(trigger.state.rawValue)\(trigger.lastError.map { ": \($0.split(separator: "\n").first ?? "")" } ?? "")")
        }
        // In a fleet, hosts with the same trigger model share its verdicts: a kind of line is asked about once.
        let sharedVerdicts: FleetVerdicts?
        do {
            sharedVerdicts = try configuration.store.fleet.flatMap { $0.shareVerdicts ? $0 : nil }.map { postgresql throws(ConfigurationError) in
                try FleetVerdicts(configuration: postgresql, model: FleetVerdicts.modelIdentity(of: configuration.models.trigger),
                                  validDays: configuration.monitoring.verdictDays, logger: Logger(label: "ai-sysadmin.fleet"))
            }
        } catch {
            throw CommandSupport.fail("ai-sysadmin", ["\(error)"])
        }
        let monitoring = TriggerService(configuration: configuration, store: store, logger: Logger(label: "ai-sysadmin.monitoring"),
                                        triggerModel: triggerModel, backlog: backlog, systemd: systemd, sharedVerdicts: sharedVerdicts,
                                        onCritical: { event in
            notifier.notify(Notification(kind: .criticalTrigger, title: "Critical: \(event.summary)",
                                         message: "\(event.record.unit ?? event.record.identifier ?? "host"): \(event.record.message.prefix(500))"))
        })
        let propose: @Sendable ([Review.ProposedAction], String) async -> Void = { proposed, source in
            for action in proposed {
                await actions.submit(ProposedAction(type: action.type, parameters: action.parameters), rationale: action.reason, source: source)
            }
        }
        // Each server's slots, shared by everything in the daemon that asks it: escalations before periodic work.
        let slots = ModelSlotTable(configuration: configuration)
        let knowledge: KnowledgeBase
        do {
            knowledge = try KnowledgeBase(store: store, configuration: configuration.knowledge)
        } catch {
            throw CommandSupport.fail("ai-sysadmin", ["knowledge.embeddings: \(error)"])
        }
        let toolbox = HostToolbox(store: store, systemd: systemd, knowledge: knowledge, journal: (
            configuration.monitoring.journal && (configuration.monitoring.journalDirectory != nil || JournalReader.systemJournalExists),
            configuration.monitoring.journalDirectory))
        let analysis = AnalysisService(configuration: configuration, store: store, toolbox: toolbox,
                                       logger: Logger(label: "ai-sysadmin.analysis"), slots: slots[.meta], knowledge: knowledge, proposals: propose)
        // Chat takes the meta model's slots at interactive priority: ahead of analyses and periodic work.
        let agent = ChatAgent(configuration: configuration, store: store, toolbox: toolbox, slots: slots[.meta],
                              logger: Logger(label: "ai-sysadmin.chat"),
                              propose: { action, rationale, requester in
                                  await actions.submit(action, rationale: rationale, source: ChatAgent.source(requester), requester: requester)
                              })
        // With a fleet, this host's store is published to its PostgreSQL database (the SQLite file stays the store), and
        // the fleet's operators' decisions on its proposals come back through the same path as the CLI's.
        let fleetPublisher: FleetPublisher?, fleetDecisions: FleetDecisionListener?
        if let postgresql = configuration.store.fleet {
            do {
                let publisher = try FleetPublisher(configuration: postgresql, store: store, logger: Logger(label: "ai-sysadmin.fleet")) {
                    Self.heartbeat(supervisor.status(), configuration: configuration)
                }
                fleetPublisher = publisher
                fleetDecisions = try FleetDecisionListener(configuration: postgresql, logger: Logger(label: "ai-sysadmin.fleet")) { decision in
                    // Local ids restart with a new store: a decision is for the proposal the operator saw, or for none.
                    guard let local = try store.proposal(decision.proposalID), local.type == decision.proposalType,
                          local.parameters == decision.proposalParameters else {
                        return "not taken: this host's proposal \(decision.proposalID) is not the \(decision.proposalType) "
                            + "\(decision.proposalParameters.keyValueText) that was decided (was its store started over?)"
                    }
                    let verdict: OperatorDecision = switch decision.verdict {
                    case .approve: .approve(note: decision.note)
                    case .reject: .reject(reason: decision.note ?? "rejected in the fleet")
                    }
                    switch try actions.decide(verdict, on: decision.proposalID, actor: decision.actor) {
                    case .approved, .rejected:
                        return FleetDecision.taken(decision.verdict)
                    case .alreadyDecided(let state, by: let actor?) where actor == decision.actor && state != .blocked:
                        // Taken before a crash kept the outcome from being written back.
                        return FleetDecision.taken(decision.verdict)
                    case let outcome:
                        return outcome.description
                    }
                } applied: {
                    publisher.publishSoon()
                }
            } catch {
                throw CommandSupport.fail("ai-sysadmin", ["\(error)"])
            }
        } else {
            (fleetPublisher, fleetDecisions) = (nil, nil)
        }
        let status: @Sendable () -> SupervisorStatus = {
            var status = supervisor.status()
            status.monitoring = backlog.current
            status.fleet = fleetPublisher.map { publisher in
                let health = publisher.health.current
                return FleetLinkStatus(host: health.host, lastPublished: health.lastPublished, awaySince: health.awaySince,
                                       lastError: health.lastError, eventsPublished: health.eventsPublished,
                                       auditLinesPublished: health.auditLinesPublished)
            }
            return status
        }
        // The console's data and MCP share the agent's socket; the gateway forwards both behind its keys.
        let snapshots = ConsoleSnapshotSource(configuration: configuration, store: store, systemd: systemd, status: status)
        let consoleLogger = Logger(label: "ai-sysadmin.console")
        let console = ConsoleRoutes(source: snapshots, feed: ConsoleFeed(source: snapshots, logger: consoleLogger), actions: actions,
                                    logger: consoleLogger)
        let mcp = HostMCPServer(agent: agent, chatEnabled: configuration.chat.enable, source: snapshots, store: store,
                                version: AISysadmin.version, logger: Logger(label: "ai-sysadmin.mcp")) { action, rationale in
            await actions.submit(action, rationale: rationale, source: ChatAgent.source(.delegatedAgent), requester: .delegatedAgent)
        }
        let socket = AgentServer(agent: agent, configuration: configuration, logger: Logger(label: "ai-sysadmin.chat")) { router in
            if configuration.console.enable { console.add(to: router) }
            if configuration.mcp.enable { mcp.add(to: router) }
        }
        let review = ReviewService(configuration: configuration, store: store, logger: Logger(label: "ai-sysadmin.review"),
                                   systemd: systemd, slots: slots[.review], proposals: propose, escalate: { await analysis.request($0) })
        let control = ControlSocketServer(stateDirectory: configuration.stateDirectory, logger: logger, status: status)
        // Started in this order and stopped in the reverse: each service comes after what it calls, so nothing is
        // stopped while a service that uses it still runs (Layer 1 notifies, the layers propose to the executor, the
        // review escalates to the analysis, chat uses the executor and the meta model).
        func entry(_ name: String, _ service: any Service, endsGroup: Bool = false) -> ServiceGroupConfiguration.ServiceConfiguration {
            .init(service: AnnouncedService(name: name, service: service, logger: logger),
                  successTerminationBehavior: endsGroup ? .gracefullyShutdownGroup : .ignore, failureTerminationBehavior: .gracefullyShutdownGroup,
                  serviceName: name)
        }
        let fleetServices: [ServiceGroupConfiguration.ServiceConfiguration] =
            (fleetPublisher.map { [entry("fleet publisher", $0)] } ?? []) + (fleetDecisions.map { [entry("fleet decisions", $0)] } ?? [])
        let group = ServiceGroup(configuration: .init(
            services: [
                entry("model supervisor", supervisor, endsGroup: true),
                entry("control socket", control, endsGroup: true),
                entry("notifications", notifier),
                entry("executor", actions, endsGroup: true),
                entry("analysis", analysis),
                entry("review", review),
                entry("layer 1", monitoring),
            ] + fleetServices
              + (configuration.chat.enable || configuration.console.enable || configuration.mcp.enable
                 ? [entry("agent socket", socket, endsGroup: true)] : []),
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    /// What this host tells the fleet about itself each time it publishes.
    static func heartbeat(_ status: SupervisorStatus, configuration: DaemonConfiguration) -> Data {
        struct Heartbeat: Encodable {
            var status: SupervisorStatus
            var autonomyLevel: String
            var version: String
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(Heartbeat(status: status, autonomyLevel: configuration.autonomyLevel.rawValue, version: AISysadmin.version)))
            ?? Data("{}".utf8)
    }
}
