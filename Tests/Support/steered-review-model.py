#!/usr/bin/env python3
"""A review and meta model that log lines have completely taken over: the worst case for the executor.

It speaks the llama-server endpoints the daemon uses (/health, /props, /tokenize, /v1/chat/completions) and
answers every review with a schema-shaped review whose proposed_actions are whatever JSON objects of the form
{"type": ..., "parameters": {...}} appear in the events it was shown — so anyone who can write a log line
chooses the proposals. What happens to them is then up to the validator and the autonomy policy alone.

When the events contain ESCALATE, the review proposes nothing and escalates instead. An analysis (the meta
model's steps, told apart by the schema name) first calls the unit_status tool for app.service, then finishes
with the JSON objects from its context as actions and a knowledge note.

With --native-tools its /props says the chat template supports tool calls, and an analysis request that
offers tools is answered with OpenAI tool calls: unit_status for app.service, then (once a tool message came
back) finish with the analysis as its arguments.

usage: steered-review-model.py PORT [--native-tools]
Each event is one line on stdout: "listening", "review N: ANSWER-JSON", "analysis N: ANSWER-JSON".
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
native_tools = "--native-tools" in sys.argv[2:]
reviews = 0
lock = threading.Lock()


def proposals_in(text):
    found, decoder, index = [], json.JSONDecoder(), 0
    while True:
        index = text.find('{"type"', index)
        if index < 0:
            return found
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            index += 1
            continue
        if isinstance(value, dict) and isinstance(value.get("parameters"), dict):
            found.append({"type": value["type"], "parameters": value["parameters"], "reason": "the logs said so"})
        index = end


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, payload, status=200):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self.answer({"status": "ok"})
        elif self.path == "/props":
            self.answer({"default_generation_settings": {"n_ctx": 8192}, "total_slots": 1, "model_path": "steered.gguf",
                         "chat_template_caps": {"supports_tool_calls": native_tools, "supports_tools": native_tools}})
        elif self.path == "/v1/models":
            self.answer({"object": "list", "data": [{"id": "steered", "object": "model"}]})
        else:
            self.answer({"error": {"code": 404, "message": "not found"}}, 404)

    def do_POST(self):
        global reviews
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/tokenize":
            self.answer({"tokens": [0] * (len(request.get("content", "")) // 4 + 1)})
            return
        if self.path != "/v1/chat/completions":
            self.answer({"error": {"code": 404, "message": "not found"}}, 404)
            return
        shown = " ".join(m.get("content", "") for m in request.get("messages", []) if m.get("role") == "user")
        schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("name", "")
        if request.get("tools"):
            self.tool_calls(request, proposals_in(shown)[:3])
            return
        proposed = proposals_in(shown)[:3]
        if schema.startswith("analysis"):
            if schema == "analysis_step" and "What the tools said so far" not in shown:
                answer = {"tool": "unit_status", "arguments": {"unit": "app.service"}}
            else:
                answer = {"final": {"diagnosis": "app.service crashed, steered by its own logs", "root_cause": "the logs said so",
                                    "confidence": "high", "actions": proposed, "rollback": "none",
                                    "prevention": "do not let logs steer", "knowledge_note": "app.service crashed after a bad deploy"}}
            self.reply("analysis", answer)
            return
        escalating = "ESCALATE" in shown
        review = {"status": "critical", "summary": "steered by the logs", "issues": [],
                  "proposed_actions": [] if escalating else proposed,
                  "escalate": escalating, "escalation_reason": "the logs asked for a deeper look" if escalating else ""}
        self.reply("review", review)

    def tool_calls(self, request, proposed):
        global reviews
        offered = [t["function"]["name"] for t in request["tools"]]
        results = [m.get("content", "") for m in request.get("messages", []) if m.get("role") == "tool"]
        if results or offered == ["finish"]:
            name, arguments = "finish", {"diagnosis": "app.service crashed, steered by its own logs", "root_cause": "the logs said so",
                                         "confidence": "high", "actions": proposed, "rollback": "none",
                                         "prevention": "do not let logs steer", "knowledge_note": "app.service crashed after a bad deploy"}
        else:
            name, arguments = "unit_status", {"unit": "app.service"}
        with lock:
            reviews += 1
            number = reviews
            sys.stdout.write(f"analysis-native {number}: offered={','.join(offered)} tool_results={json.dumps(results)} call={name}\n")
            sys.stdout.flush()
        call = {"id": f"call_{number}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        self.answer({"id": f"steered-{number}", "object": "chat.completion", "created": 1, "model": "steered",
                     "choices": [{"index": 0, "finish_reason": "tool_calls",
                                  "message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def reply(self, kind, content):
        global reviews
        with lock:
            reviews += 1
            number = reviews
            # One write per line, under the lock: handler threads must not interleave their output.
            sys.stdout.write(f"{kind} {number}: {json.dumps(content)}\n")
            sys.stdout.flush()
        self.answer({"id": f"steered-{number}", "object": "chat.completion", "created": 1, "model": "steered",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": json.dumps(content)}}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("listening", flush=True)
server.serve_forever()
