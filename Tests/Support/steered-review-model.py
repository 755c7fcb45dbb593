#!/usr/bin/env python3
"""A review and meta model that log lines have completely taken over: the worst case for the executor.

It speaks the llama-server endpoints the daemon uses (/health, /props, /tokenize, /v1/chat/completions) and
answers every review with a schema-shaped review whose proposed_actions are whatever JSON objects of the form
{"type": ..., "parameters": {...}} appear in the events it was shown — so anyone who can write a log line
chooses the proposals. What happens to them is then up to the validator and the autonomy policy alone.

When the events contain ESCALATE, the review proposes nothing and escalates instead. When what it is shown contains
MARKUP, what it writes — the review's summary, the reasons of proposed actions, an analysis's diagnosis — carries
HTML and script (for the console's test that model text stays text). An analysis (the meta
model's steps, told apart by the schema name) first calls the unit_status tool for app.service, then finishes
with the JSON objects from its context as actions and a knowledge note.

With --native-tools its /props says the chat template supports tool calls, and an analysis request that
offers tools is answered with OpenAI tool calls: unit_status for app.service, then (once a tool message came
back) finish with the analysis as its arguments.

A chat client's background task (the last user message begins with "### Task:", as Open WebUI's title and tag
prompts do) is answered "Steered title" and printed as "task N: REQUEST-MESSAGES-JSON".

As the chat agent's model (requests whose system prompt is the agent's persona) it proposes the JSON action
object found in the operator's last message — a {"propose": ...} step, or with --native-tools a propose_action
call — and then answers by repeating what the system told it about the actions of this turn. Every chat request
is printed whole, so a test can check the prompt the daemon built.

With --cut-full-finals a schema-bound analysis's conclusion asked under the full schema is cut off at the token
limit (finish_reason "length", half the JSON), and one asked under the compact schema (a diagnosis of at most 100
characters) is answered; with --cut-every-final every conclusion is cut off. Each cut is printed as
"analysis-cut N: diagnosis-limit=L".

usage: steered-review-model.py PORT [--native-tools] [--cut-full-finals | --cut-every-final]
Each event is one line on stdout: "listening", "review N: ANSWER-JSON", "analysis N: ANSWER-JSON",
"chat N: REQUEST-MESSAGES-JSON".
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
native_tools = "--native-tools" in sys.argv[2:]
cut_full_finals = "--cut-full-finals" in sys.argv[2:]
cut_every_final = "--cut-every-final" in sys.argv[2:]
reviews = 0
lock = threading.Lock()


# A model's words are as hostile as a log line's: with MARKUP in what it was shown, what it writes carries some.
MARKUP = ' <img src=x onerror="window.__xss=\'model\'"><script>window.__xss="model"</script>'


def marked(text, shown):
    return text + MARKUP if "MARKUP" in shown else text


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
            found.append({"type": value["type"], "parameters": value["parameters"], "reason": marked("the logs said so", text)})
        index = end


def diagnosis_limit(request):
    """The longest diagnosis the request's schema allows for a conclusion, or None."""
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
    for option in schema.get("anyOf", [schema]):
        final = (option.get("properties") or {}).get("final")
        if final:
            return final["properties"]["diagnosis"].get("maxLength")
    return None


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
        messages = request.get("messages", [])
        if messages and messages[0].get("role") == "system" and (messages[0].get("content") or "").startswith("You are ai-sysadmin"):
            self.chat(request, schema)
            return
        if messages and (messages[-1].get("content") or "").lstrip().startswith("### Task:"):
            self.client_task(request)
            return
        if request.get("tools"):
            self.tool_calls(request, proposals_in(shown)[:3])
            return
        proposed = proposals_in(shown)[:3]
        if schema.startswith("analysis"):
            if schema == "analysis_step" and "What the tools said so far" not in shown:
                answer = {"tool": "unit_status", "arguments": {"unit": "app.service"}}
            else:
                answer = {"final": {"diagnosis": marked("app.service crashed, steered by its own logs", shown), "root_cause": "the logs said so",
                                    "confidence": "high", "actions": proposed, "rollback": "none",
                                    "prevention": "do not let logs steer", "knowledge_note": "app.service crashed after a bad deploy"}}
            limit = diagnosis_limit(request)
            if "final" in answer and (cut_every_final or (cut_full_finals and limit != 100)):
                self.cut_off("analysis-cut", f"diagnosis-limit={limit}", json.dumps(answer))
                return
            self.reply("analysis", answer)
            return
        escalating = "ESCALATE" in shown
        review = {"status": "critical", "summary": marked("steered by the logs", shown), "issues": [],
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

    def chat(self, request, schema):
        global reviews
        messages = request["messages"]
        with lock:
            reviews += 1
            number = reviews
            sys.stdout.write(f"chat {number}: {json.dumps(messages)}\n")
            sys.stdout.flush()
        system = messages[0]["content"]
        asked = proposals_in(messages[-1].get("content") or "") if messages[-1].get("role") == "user" else []
        proposed_already = "Actions this turn" in system or any(m.get("role") == "tool" for m in messages)
        if schema == "chat_step":
            step = {"propose": asked[0]} if asked and not proposed_already else {"answer": "now"}
            self.answer({"id": f"steered-{number}", "object": "chat.completion", "created": 1, "model": "steered",
                         "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": json.dumps(step)}}]})
            return
        offered = [t["function"]["name"] for t in request.get("tools") or []]
        if "propose_action" in offered and asked and not proposed_already:
            arguments = dict(asked[0]["parameters"], type=asked[0]["type"], reason="the operator asked")
            self.stream_tool_call(number, "propose_action", json.dumps(arguments))
            return
        facts = [m["content"] for m in messages if m.get("role") == "tool"]
        if "Actions this turn" in system:
            facts.append(system.split("Actions this turn", 1)[1].split("\n\n", 1)[0])
        text = "Steered answer. " + (" ".join(facts) if facts else "Nothing to report.")
        # A word a token: max_tokens cuts the answer like a real server, with finish_reason "length".
        words, limit = text.split(" "), request.get("max_tokens") or 1 << 30
        finish = "length" if len(words) > limit else "stop"
        text = " ".join(words[:limit])
        if request.get("stream"):
            self.stream_text(number, text, finish)
        else:
            self.answer({"id": f"steered-{number}", "object": "chat.completion", "created": 1, "model": "steered",
                         "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}]})

    def client_task(self, request):
        """A chat client's background task (a title, tags): answered in a few words, streamed when asked."""
        global reviews
        with lock:
            reviews += 1
            number = reviews
            sys.stdout.write(f"task {number}: {json.dumps(request['messages'])}\n")
            sys.stdout.flush()
        if request.get("stream"):
            self.stream_text(number, "Steered title")
        else:
            self.answer({"id": f"steered-{number}", "object": "chat.completion", "created": 1, "model": "steered",
                         "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Steered title"}}]})

    def send_events(self, chunks):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def stream_text(self, number, text, finish="stop"):
        def chunk(delta, finish=None):
            return {"id": f"steered-{number}", "object": "chat.completion.chunk", "created": 1, "model": "steered",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        words = text.split(" ")
        self.send_events([chunk({"role": "assistant", "content": ""})]
                         + [chunk({"content": word + (" " if i < len(words) - 1 else "")}) for i, word in enumerate(words)]
                         + [chunk({}, finish)])

    def stream_tool_call(self, number, name, arguments):
        def chunk(delta, finish=None):
            return {"id": f"steered-{number}", "object": "chat.completion.chunk", "created": 1, "model": "steered",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        half = len(arguments) // 2
        self.send_events([
            chunk({"role": "assistant", "content": None, "tool_calls": [
                {"index": 0, "id": f"call_{number}", "type": "function", "function": {"name": name, "arguments": arguments[:half]}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]}),
            chunk({}, "tool_calls"),
        ])

    def cut_off(self, kind, note, text):
        """Answers half of `text`, cut off at the token limit."""
        self.complete(kind, note, text[:len(text) // 2], "length")

    def reply(self, kind, content):
        self.complete(kind, json.dumps(content), json.dumps(content), "stop")

    def complete(self, kind, shown, content, finish_reason):
        """Prints "KIND N: SHOWN", then answers `content` as a chat completion."""
        global reviews
        with lock:
            reviews += 1
            number = reviews
            # One write per line, under the lock: handler threads must not interleave their output.
            sys.stdout.write(f"{kind} {number}: {shown}\n")
            sys.stdout.flush()
        self.answer({"id": f"steered-{number}", "object": "chat.completion", "created": 1, "model": "steered",
                     "choices": [{"index": 0, "finish_reason": finish_reason,
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("listening", flush=True)
server.serve_forever()
