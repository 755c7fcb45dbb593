#!/usr/bin/env python3
"""Serves one file over HTTP with Range support, for the model downloader's tests.

usage: model-file-server.py PORT FILE [--cut-first N] [--no-range] [--no-length]
  GET /model.gguf   the file; `Range: bytes=N-` gets 206 with Content-Range, or 416 past the end
  --cut-first N     the first GET sends its headers (full Content-Length) and N bytes, then hangs up
  --no-range        ignore Range and always send the whole file with 200
  --no-length       send the whole file without Content-Length, ending it by closing the connection
  --redirect-to URL answer every GET with 302 Found to URL
One line per request on stdout: "GET RANGE" (RANGE is the Range header, or "-"); "listening" once ready.
"""
import http.server
import sys

port, path = int(sys.argv[1]), sys.argv[2]
cut_first = int(sys.argv[sys.argv.index("--cut-first") + 1]) if "--cut-first" in sys.argv else None
honour_range = "--no-range" not in sys.argv
no_length = "--no-length" in sys.argv
redirect_to = sys.argv[sys.argv.index("--redirect-to") + 1] if "--redirect-to" in sys.argv else None
content = open(path, "rb").read()
requests = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        global requests
        requests += 1
        header = self.headers.get("Range")
        print(f"GET {header or '-'}", flush=True)
        if self.path != "/model.gguf":
            self.send_error(404)
            return
        if redirect_to:
            self.send_response(302)
            self.send_header("Location", redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        if header and honour_range:
            start = int(header.removeprefix("bytes=").split("-")[0])
            if start >= len(content):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(content)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        else:
            self.send_response(200)
        body = content[start:]
        if no_length:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut_first is not None and requests == 1:
            self.wfile.write(body[:cut_first])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("listening", flush=True)
server.serve_forever()
