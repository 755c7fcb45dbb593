#!/usr/bin/env python3
"""A deliberately broken OpenAI-compatible upstream, for the gateway's fault paths.

usage: broken-upstream.py PORT MODE
  stall      accept the request, send nothing
  stall-sse  send the headers of an event stream, then nothing
  loading    answer 503 {"error":{"code":503,"message":"Loading model"}} like a loading llama-server
Each event is one line on stdout: "listening", "request PATH", "closed PATH" (the client hung up).
"""
import socket
import sys
import threading

port, mode = int(sys.argv[1]), sys.argv[2]


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
        if mode == "loading":
            payload = b'{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}'
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            return
        if mode == "stall-sse":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        # Stall: wait for the client to give up; recv returns b"" when it closes.
        while conn.recv(65536):
            pass
        say(f"closed {path}")


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(16)
say("listening")
while True:
    connection, _ = listener.accept()
    threading.Thread(target=handle, args=(connection,), daemon=True).start()
