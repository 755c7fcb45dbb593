@testable import Chat
import Foundation
import Testing
import UpstreamClient

@Suite struct ConversationTests {
    private func conversation(_ json: String) throws(Conversation.Invalid) -> Conversation {
        try Conversation(requestBody: Data(json.utf8))
    }

    private func refusal(_ json: String) -> String? {
        do {
            _ = try conversation(json)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func theWholeHistoryIsKeptWithTheClientsInstructionsApart() throws {
        let decoded = try conversation("""
            {"model":"ai-sysadmin","stream":true,"temperature":0.3,"messages":[
              {"role":"system","content":"Answer in French."},
              {"role":"user","content":"Why did nginx restart?"},
              {"role":"assistant","content":"It ran out of memory."},
              {"role":"assistant","content":null,"tool_calls":[]},
              {"role":"user","content":[{"type":"text","text":"And before"},{"type":"text","text":"that?"}]}]}
            """)
        #expect(decoded.stream)
        #expect(decoded.maxTokens == nil)
        #expect(try conversation(#"{"max_tokens":40,"messages":[{"role":"user","content":"hi"}]}"#).maxTokens == 40)
        #expect(decoded.clientInstructions == "Answer in French.")
        #expect(decoded.turns == [.user("Why did nginx restart?"), .assistant("It ran out of memory."), .user("And before\nthat?")])
    }

    /// What Open WebUI sends with its defaults: its built-in tools, `tool_choice` auto, usage asked for; and its
    /// background task prompts, which the agent answers cheaply.
    @Test func optionalFieldsAreAcceptedAndClientTasksRecognised() throws {
        let decoded = try conversation(#"""
            {"model":"ai-sysadmin","stream":true,"stream_options":{"include_usage":true},"tool_choice":"auto","response_format":{"type":"text"},
             "tools":[{"type":"function","function":{"name":"get_current_timestamp","parameters":{"type":"object","properties":{}}}}],
             "messages":[{"role":"user","content":"Is nginx.service healthy?"}]}
            """#)
        #expect(decoded.includeUsage && !decoded.isClientTask)
        let task = try conversation(####"{"messages":[{"role":"user","content":"### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history."}]}"####)
        #expect(task.isClientTask && !task.includeUsage)
    }

    @Test(arguments: [
        (#"{"messages":[]}"#, "'messages' is required"),
        (#"{"messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#, "'stream' must be true or false"),
        (#"{"messages":[{"role":"user","content":"hi"}],"tools":{"x":1}}"#, "'tools' must be an array"),
        (#"{"messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}"#, "never calls the client's"),
        (#"{"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"function","function":{"name":"web_search"}}}"#, "names the client's function 'web_search'"),
        (#"{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}}"#, "cannot honour 'response_format' of type 'json_schema'"),
        (#"{"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":"yes"}}"#, "'stream_options.include_usage' true or false"),
        (#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#, "the last message must be the operator's"),
        (#"{"messages":[{"role":"tool","content":"42","tool_call_id":"a"},{"role":"user","content":"hi"}]}"#, "messages[0] has role 'tool'"),
        (#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#, "a 'image_url' part; the agent reads text only"),
        (#"{"messages":[{"role":"wizard","content":"hi"}]}"#, "unknown role 'wizard'"),
        (#"{"messages":[{"role":"user","content":7}]}"#, "messages[0].content must be a string or an array of text parts"),
        (#"[1,2]"#, "not a JSON object"),
        (#"{"max_tokens":0,"messages":[{"role":"user","content":"hi"}]}"#, "must be positive integers"),
        (#"{"max_tokens":"ten","messages":[{"role":"user","content":"hi"}]}"#, "must be positive integers"),
    ])
    func whatTheAgentCannotHonourIsRefusedWithTheReason(_ body: String, _ expected: String) {
        let message = refusal(body)
        #expect(message?.contains(expected) == true, "\(message ?? "accepted")")
    }

    /// One token per character, so the budget arithmetic is plain.
    private func characters(_ text: String) -> Int { text.count }

    @Test func trimmingKeepsTheNewestTurnsThatFitAndStartsWithTheOperator() {
        let turns: [ChatMessage] = [.user("aaaa"), .assistant("bbbb"), .user("cccc"), .assistant("dddd"), .user("eeee")]
        let all = Conversation.trim(turns, budget: 20, tokens: characters)
        #expect(all.kept == turns && all.dropped == 0)
        // 10 fits "dddd" + "eeee" only; the kept history must not open with the assistant, so "dddd" goes too.
        let tight = Conversation.trim(turns, budget: 10, tokens: characters)
        #expect(tight.kept == [.user("eeee")] && tight.dropped == 4)
        let middle = Conversation.trim(turns, budget: 12, tokens: characters)
        #expect(middle.kept == [.user("cccc"), .assistant("dddd"), .user("eeee")] && middle.dropped == 2)
    }

    @Test func aLastMessageOverTheBudgetLosesItsBeginningAndSaysSo() {
        let question = String(repeating: "log line ", count: 200) + "why did it fail?"
        let trimmed = Conversation.trim([.user("earlier"), .assistant("answer"), .user(question)], budget: 100, tokens: characters)
        #expect(trimmed.dropped == 2)
        let kept = trimmed.kept[0].content ?? ""
        #expect(kept.hasPrefix("(the beginning of this message was cut for space) "))
        #expect(kept.hasSuffix("why did it fail?"))
        #expect(kept.count < 160)
    }

    @Test func unitNamesAreFoundInQuestions() {
        #expect(ChatAgent.unitsNamed(in: "Why did nginx.service restart, and is postgresql.service ok? nginx.service!")
                == ["nginx.service", "postgresql.service"])
        #expect(ChatAgent.unitsNamed(in: "look at `backup.timer`.") == ["backup.timer"])
        #expect(ChatAgent.unitsNamed(in: "restart -evil.service and .hidden.service; rm -rf /").isEmpty)
    }
}
