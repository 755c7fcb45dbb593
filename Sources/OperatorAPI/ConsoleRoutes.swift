import ActionService
import Autonomy
import Chat
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAIServer

/// The console's data on the daemon's socket, which the gateway forwards under `/console/api/` behind its keys:
///
/// - `GET /console/state`: `{"canDecide": …, "snapshot": ConsoleSnapshot}`.
/// - `GET /console/stream`: server-sent events: `standing` (`{"canDecide": …}`) first, then a `state` event with a
///   snapshot at once and whenever what it shows changes (``ConsoleFeed``), so the page itself never polls.
/// - `POST /console/proposals/{id}/approve` and `…/reject` with `{"reason": "…"}`: an operator's decision, the same
///   ``OperatorDecision`` as `ai-sysadmin approvals`.
///
/// Whoever is not an operator (``AgentServer/requester(_:)``) sees everything and decides nothing.
public struct ConsoleRoutes: Sendable {
    let source: ConsoleSnapshotSource
    let feed: ConsoleFeed
    let actions: ActionCoordinator
    let logger: Logger

    public init(source: ConsoleSnapshotSource, feed: ConsoleFeed, actions: ActionCoordinator, logger: Logger) {
        self.source = source
        self.feed = feed
        self.actions = actions
        self.logger = logger
    }

    /// How the audit log names a decision taken in the console.
    static func actor(_ headers: HTTPFields) -> String {
        "operator:console" + (AgentOperatorHeader.label(in: headers).map { " (\($0))" } ?? "")
    }

    public func add(to router: Router<BasicRequestContext>) {
        let source = self.source, feed = self.feed, actions = self.actions, logger = self.logger
        router.get("/console/state") { request, _ in
            let snapshot = try ConsoleSnapshot.encoder.encode(try await source.snapshot())
            return JSONResponse.make(Data(#"{"canDecide":\#(Self.canDecide(request)),"snapshot":"#.utf8) + snapshot + Data("}".utf8))
        }
        router.get("/console/stream") { request, _ in
            guard let events = await feed.subscribe() else {
                return JSONResponse.refusal(.tooManyRequests, "\(feed.maximumSubscribers) consoles are open already; close one")
            }
            let standing = ConsoleFeed.event("standing", Data(#"{"canDecide":\#(Self.canDecide(request))}"#.utf8))
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(bytes: standing))
                    // Ends when the gateway's connection closes (the page left) or a write fails.
                    try await request.body.consumeWithCancellationOnInboundClose { _ in
                        for await event in events { try await writer.write(ByteBuffer(bytes: event)) }
                    }
                    try await writer.finish(nil)
                })
        }
        router.post("/console/proposals/{id}/{decision}") { request, context in
            var request = request
            guard Self.canDecide(request) else {
                return JSONResponse.refusal(.forbidden, "only an operator decides: log in with a key from api.operatorKeyFile")
            }
            guard let id = context.parameters.get("id").flatMap(Int64.init), id > 0 else {
                return JSONResponse.refusal(.badRequest, "the proposal id must be a positive number")
            }
            let body = try await request.collectBody(upTo: 16 * 1024)
            let reason = (try? JSONDecoder().decode(DecisionBody.self, from: Data(body.readableBytesView)))?.reason?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let decision: OperatorDecision
            switch context.parameters.get("decision") {
            case "approve": decision = .approve(note: reason.isEmpty ? nil : reason)
            case "reject":
                guard !reason.isEmpty else { return JSONResponse.refusal(.badRequest, "a rejection needs a reason (kept in the audit log)") }
                decision = .reject(reason: reason)
            default: return JSONResponse.refusal(.notFound, "the decision must be approve or reject")
            }
            let outcome = try actions.decide(decision, on: id, actor: Self.actor(request.headers))
            logger.notice("console decision", metadata: [
                "ai.request.id": "\(RequestIDHeader.id(in: request.headers) ?? "-")", "ai.proposal.id": "\(id)",
                "ai.proposal.outcome": "\(outcome)"])
            let status: HTTPResponse.Status = switch outcome {
            case .approved, .rejected: .ok
            case .missing: .notFound
            case .alreadyDecided: .conflict
            case .noLongerValid: .unprocessableContent
            }
            return JSONResponse.make(Data(#"{"outcome":\#(JSONResponse.quoted("\(outcome)"))}"#.utf8), status: status)
        }
    }

    static func canDecide(_ request: Request) -> Bool {
        AgentServer.requester(request.headers) == .authenticatedOperator
    }

    struct DecisionBody: Decodable { var reason: String? }
}
