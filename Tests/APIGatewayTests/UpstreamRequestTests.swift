import Foundation
import SysadminConfiguration
import Testing
import UpstreamClient
@testable import APIGateway

/// The pure half of forwarding: what goes upstream for a checked request, and which headers the gateway vouches for.
@Suite struct UpstreamRequestTests {
    private let api = GatewayConfiguration()

    private func check(_ body: String) throws -> RequestCheck {
        try RequestCheck(Data(body.utf8), route: .chat, api: api, upstreamModelJSON: Data(#""meta""#.utf8))
    }

    private func header(_ request: UpstreamClient.HTTPRequest, _ name: String) -> [String] {
        request.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    @Test func openWebUIsTaskPromptsAreBackgroundWork() {
        #expect(Gateway.isBackgroundTask(Data(####"{"messages":[{"role":"user","content":"### Task:\nGenerate a title"}]}"####.utf8)))
        #expect(Gateway.isBackgroundTask(Data("### Task:".utf8)), "the marker at both ends of the body")
        #expect(!Gateway.isBackgroundTask(Data(####"{"messages":[{"role":"user","content":"## Task: why is nginx down? ###"}]}"####.utf8)))
        #expect(!Gateway.isBackgroundTask(Data("### Task".utf8)), "cut short at the end")
        #expect(!Gateway.isBackgroundTask(Data()))
    }

    @Test func theMetaModelGetsItsKeyAndTheUpstreamsModelName() throws {
        let checked = try check(#"{"model":"ai-sysadmin-meta","messages":[{"role":"user","content":"hi"}],"stream":true}"#)
        let request = Gateway.upstreamRequest(checked, route: .chat, to: .model(ModelEndpoint(baseURL: "http://127.0.0.1:40082"), key: "k1"),
                                              requestID: "0000002a", api: api)
        #expect(request.url == "http://127.0.0.1:40082/v1/chat/completions" && request.unixSocketPath == nil)
        #expect(header(request, "Authorization") == ["Bearer k1"])
        #expect(header(request, "X-AI-Sysadmin-Requester").isEmpty)
        #expect(String(decoding: request.body ?? Data(), as: UTF8.self).contains(#""model":"meta""#), "the model was not renamed")
        #expect(request.timeouts.total == nil, "a stream has no total timeout")
    }

    @Test func theAgentGetsTheGatewaysWordOnWhoAsksAndNoModelKey() throws {
        let checked = try check(#"{"model":"\#(api.agentModelId ?? "ai-sysadmin")","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(checked.toAgent)
        for (isOperator, requester) in [(true, "operator"), (false, "client")] {
            let request = Gateway.upstreamRequest(checked, route: .chat, to: .agent(socketPath: "/run/ai/agent.sock", isOperator: isOperator),
                                                  requestID: "0000002b", api: api)
            #expect(request.unixSocketPath == "/run/ai/agent.sock" && request.url == "http://localhost/v1/chat/completions")
            #expect(header(request, "X-AI-Sysadmin-Requester") == [requester])
            #expect(header(request, "X-Request-Id") == ["0000002b"])
            #expect(header(request, "Authorization").isEmpty, "the model's key went to the agent")
            #expect(request.timeouts.total == .seconds(api.upstreamTimeoutSeconds))
        }
    }
}
