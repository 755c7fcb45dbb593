#!/usr/bin/env python3
"""How the gateway treats the HTTP clients people actually use: pooling clients that reuse connections, a client
that writes a too-large body with `Connection: close` before it reads, and an HTTP/1.0 client.

usage: pooled-clients-check.py BASE_URL MODEL [COUNT]
Prints one JSON object:
  aiohttp_failures / aiohttp_errors: COUNT streamed then COUNT plain chat completions on one aiohttp connection
      pool of one connection; how many raised, and the first errors
  http_client_failures / http_client_errors: the same with http.client on one HTTPConnection
  too_large_status / too_large_code: a 9 MiB body sent by urllib with Connection: close (it writes the whole
      body before reading the answer)
  http10_closed: whether the gateway closes an HTTP/1.0 connection without keep-alive after its answer
"""
import asyncio
import http.client
import json
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

import aiohttp

base, model = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 50
url = base + "/v1/chat/completions"


def body(stream):
    return {"model": model, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 2, "stream": stream}


async def with_aiohttp():
    failures, errors = 0, []
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for stream in [True] * count + [False] * count:
            try:
                async with session.post(url, json=body(stream)) as response:
                    text = await response.text()
                    if response.status != 200 or (stream and "[DONE]" not in text):
                        raise RuntimeError(f"status {response.status}: {text[:200]}")
            except Exception as error:  # what a pooling client meets on a connection closed under it
                failures += 1
                if len(errors) < 3:
                    errors.append(f"{type(error).__name__}: {error}")
    return failures, errors


def with_http_client():
    parsed = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    failures, errors = 0, []
    for stream in [True] * count + [False] * count:
        try:
            connection.request("POST", "/v1/chat/completions", json.dumps(body(stream)), {"Content-Type": "application/json"})
            response = connection.getresponse()
            text = response.read().decode()
            if response.status != 200 or (stream and "[DONE]" not in text):
                raise RuntimeError(f"status {response.status}: {text[:200]}")
        except Exception as error:
            failures += 1
            if len(errors) < 3:
                errors.append(f"{type(error).__name__}: {error}")
            connection.close()
    connection.close()
    return failures, errors


def too_large():
    payload = json.dumps({"model": model, "messages": [{"role": "user", "content": "x" * (9 * 1024 * 1024)}]}).encode()
    request = urllib.request.Request(url, data=payload, headers={"Content-Type": "application/json", "Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        try:
            code = json.loads(error.read()).get("error", {}).get("code")
        except ValueError:
            code = None
        return error.code, code
    except Exception as error:
        return None, f"{type(error).__name__}: {error}"


def http10_closes():
    parsed = urllib.parse.urlsplit(base)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as connection:
        connection.sendall(b"GET /v1/models HTTP/1.0\r\nHost: localhost\r\n\r\n")
        try:
            while connection.recv(65536):
                pass
            return True
        except socket.timeout:
            return False


aio_failures, aio_errors = asyncio.run(with_aiohttp())
client_failures, client_errors = with_http_client()
status, code = too_large()
print(json.dumps({
    "aiohttp_failures": aio_failures, "aiohttp_errors": aio_errors,
    "http_client_failures": client_failures, "http_client_errors": client_errors,
    "too_large_status": status, "too_large_code": code, "http10_closed": http10_closes(),
}))
