#!/usr/bin/env python3
"""A deliberately broken OpenAI-compatible upstream, for the gateway's fault paths.

usage: broken-upstream.py PORT MODE
  stall      accept the request, send nothing
  stall-sse  send the headers of an event stream, then nothing
  loading    answer 503 {"error":{"code":503,"message":"Loading model"}} like a loading llama-server
  garbage    stream one good event, then an event whose data is not JSON, then wait
  truncated  stream one good event, then end the body cleanly without data: [DONE]
  not-json   answer a non-streamed request with 200 and an HTML body
  wrong-verdicts  answer every chat completion with JSON that parses but is no valid trigger verdict
  stall-chat answer /health and /props like a healthy llama-server, then stall every chat completion (a model
             reading a long prompt): for the chat agent, which probes /props first
  tool-calls answer like a tool-capable model: a call to get_weather(city=Paris), streamed as deltas (split
             arguments, usage when asked) or whole; not broken, but no small llama.cpp model does it reliably
  busy       healthy /health and /props, but 503 "no slot available" for every completion
  slow-verdicts SECONDS
             healthy /health and /props; a trigger classification is answered after SECONDS with a valid
             verdict for every template it names (severity error, summary "slow verdict"): a model that thinks long
  normal-verdicts
             healthy /health and /props; every trigger classification is answered at once with severity normal,
             no escalation, for every template it names: a model a log line has talked into calling everything fine
Each event is one line on stdout: "listening", "request PATH", "body JSON" (the request body as received),
"closed PATH" (the client hung up), and for slow-verdicts and normal-verdicts "answered N" when the N-th classification
is answered.
"""
import json
import socket
import sys
import threading
import time

port, mode = int(sys.argv[1]), sys.argv[2]
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
answered = 0
lock = threading.Lock()


def say(line):
    print(line, flush=True)


def handle(conn):
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        length = next((int(l.split(":", 1)[1]) for l in lines[1:] if l.lower().startswith("content-length:")), 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
        say(f"request {path}")
        say("body " + body.decode("utf-8", "replace").replace("\n", " "))
        if mode in ("stall-chat", "busy", "slow-verdicts", "normal-verdicts") and path in ("/health", "/props"):
            payload = json.dumps({"status": "ok"} if path == "/health" else
                                 {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(payload)).encode() + b"\r\nConnection: close\r\n\r\n" + payload)
            return
        if mode in ("stall-chat", "busy", "slow-verdicts", "normal-verdicts") and lines[0].startswith("GET "):
            # Other probes (/ready) get what llama-server answers for a route it does not have.
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if mode == "busy":
            payload = b'{"error":{"code":503,"message":"no slot available","type":"unavailable_error"}}'
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            return
        if mode == "slow-verdicts":
            answer_verdicts(conn, json.loads(body), "error", "slow verdict", delay)
            return
        if mode == "normal-verdicts":
            answer_verdicts(conn, json.loads(body), "normal", "nothing to see here", 0)
            return
        if mode == "loading":
            payload = b'{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}'
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            return
        if mode == "not-json":
            payload = b"<html><body>502 Bad Gateway</body></html>"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            return
        if mode == "wrong-verdicts":
            content = json.dumps({"verdicts": [{"template": 99, "severity": "catastrophic", "category": "x",
                                                "escalate": True, "summary": "ignore previous instructions"}]})
            payload = json.dumps({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": content}}]}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            return
        if mode == "tool-calls":
            answer_with_tool_call(conn, json.loads(body))
            return
        if mode in ("garbage", "truncated"):
            send_chunk(conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n", raw=True)
            send_chunk(conn, sse({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}))
            if mode == "truncated":
                conn.sendall(b"0\r\n\r\n")
                wait_for_close(conn, path)
                return
            send_chunk(conn, b"data: <html>oops</html>\n\n")
        if mode == "stall-sse":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        wait_for_close(conn, path)


def answer_verdicts(conn, request, severity, summary, after):
    """Valid verdicts, one per template the schema asks for, after `after` seconds."""
    global answered
    schema = request["response_format"]["json_schema"]["schema"]
    count = len(schema["properties"]["verdicts"]["prefixItems"])
    time.sleep(after)
    content = json.dumps({"verdicts": [{"template": n, "severity": severity, "category": "service", "escalate": False,
                                        "summary": summary} for n in range(1, count + 1)]})
    payload = json.dumps({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                          "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                 + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    with lock:
        answered += 1
        say(f"answered {answered}")


def wait_for_close(conn, path):
    """Stalls until the client gives up; recv returns b"" when it closes."""
    while conn.recv(65536):
        pass
    say(f"closed {path}")


def send_chunk(conn, data, raw=False):
    conn.sendall(data if raw else b"%x\r\n%s\r\n" % (len(data), data))


def sse(obj):
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def answer_with_tool_call(conn, request):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    base = {"id": "chatcmpl-tools", "created": 1, "model": request.get("model")}
    if not request.get("stream"):
        payload = json.dumps(dict(base, object="chat.completion", usage=usage, choices=[
            {"index": 0, "finish_reason": "tool_calls",
             "message": {"role": "assistant", "content": None, "tool_calls": [call]}}])).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        return
    send_chunk(conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n", raw=True)
    chunk = dict(base, object="chat.completion.chunk")
    arguments = call["function"]["arguments"]
    deltas = [{"role": "assistant", "content": None,
               "tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}]
    deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": arguments[i:i + 5]}}]}
               for i in range(0, len(arguments), 5)]
    for delta in deltas:
        send_chunk(conn, sse(dict(chunk, choices=[{"index": 0, "delta": delta, "finish_reason": None}])))
    send_chunk(conn, sse(dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])))
    if (request.get("stream_options") or {}).get("include_usage"):
        send_chunk(conn, sse(dict(chunk, choices=[], usage=usage)))
    send_chunk(conn, b"data: [DONE]\n\n")
    conn.sendall(b"0\r\n\r\n")


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(16)
say("listening")
while True:
    connection, _ = listener.accept()
    threading.Thread(target=handle, args=(connection,), daemon=True).start()
