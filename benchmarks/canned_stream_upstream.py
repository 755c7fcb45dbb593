#!/usr/bin/env python3
"""An instant OpenAI-compatible streaming upstream for the gateway benchmarks.

usage: canned_stream_upstream.py PORT [EVENTS] [SPACING_MS]
POST /v1/chat/completions answers with a stream of EVENTS chat.completion.chunk events (default 50) spaced
SPACING_MS apart (default 2), then data: [DONE]; a non-streaming request gets one canned completion.
GET /health and GET /v1/models answer at once. HTTP/1.1 with keep-alive, so proxies can pool connections.
"""
import asyncio
import json
import sys

port = int(sys.argv[1])
events = int(sys.argv[2]) if len(sys.argv) > 2 else 50
spacing = (float(sys.argv[3]) if len(sys.argv) > 3 else 2.0) / 1000

COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello."}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}).encode()
MODELS = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model", "created": 1,
                                                 "owned_by": "bench"}]}).encode()


def chunk(index):
    payload = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench",
                          "choices": [{"index": 0, "delta": {"content": f"t{index} "}, "finish_reason": None}]})
    data = b"data: " + payload.encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNKS = [chunk(i) for i in range(events)]
DONE = b"%x\r\n%s\r\n0\r\n\r\n" % (len(b"data: [DONE]\n\n"), b"data: [DONE]\n\n")


def whole(status, body, content_type=b"application/json"):
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = next((int(l.split(":", 1)[1]) for l in lines[1:] if l.lower().startswith("content-length:")), 0)
            body = await reader.readexactly(length) if length else b""
            closing = any(l.lower().replace(" ", "") == "connection:close" for l in lines[1:])
            if method == "GET" and path == "/health":
                writer.write(whole(b"200 OK", b'{"status":"ok"}'))
            elif method == "GET" and path == "/v1/models":
                writer.write(whole(b"200 OK", MODELS))
            elif method == "POST" and path == "/v1/chat/completions":
                if json.loads(body).get("stream"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n")
                    for piece in CHUNKS:
                        writer.write(piece)
                        await writer.drain()
                        await asyncio.sleep(spacing)
                    writer.write(DONE)
                else:
                    writer.write(whole(b"200 OK", COMPLETION))
            else:
                writer.write(whole(b"404 Not Found", b'{"error":{"message":"not found"}}'))
            await writer.drain()
            if closing:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
