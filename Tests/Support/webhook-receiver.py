#!/usr/bin/env python3
"""Receives notifications (a Gotify server or a generic webhook) and fails the first ones on purpose.

usage: webhook-receiver.py PORT FAILURES
Answers 500 to the first FAILURES requests, 200 after. Each event is one line on stdout: "listening", then
for each request "request STATUS PATH KEY BODY", KEY being the X-Gotify-Key header ("-" when absent).
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, failures = int(sys.argv[1]), int(sys.argv[2])
seen = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8", "replace")
        with lock:
            seen += 1
            status = 500 if seen <= failures else 200
            # One write per line, under the lock: two handler threads must not interleave their output.
            sys.stdout.write(f"request {status} {self.path} {self.headers.get('X-Gotify-Key', '-')} {body}\n")
            sys.stdout.flush()
        payload = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("listening", flush=True)
server.serve_forever()
