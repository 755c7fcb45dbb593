#!/usr/bin/env python3
"""The gateway benchmarks: what ai-sysadmin-api adds on top of talking to the upstream directly, next to
nginx as a reverse proxy, SGLang's model gateway (smg), the LiteLLM proxy and `nio-floor` (the least a SwiftNIO
reverse proxy does: benchmarks/nio-floor), all in one run against the same upstreams. Written for
benchmarks/run-gateway.sh, which builds and installs what this needs.

usage: gateway_bench.py --gateway BIN --nio-floor BIN --llama-server BIN --model GGUF --tools-python PY [options]

Upstreams: `instant` (nginx answering `return 200` with a canned completion), `stream` (the canned stream
of benchmarks/canned_stream_upstream.py: 50 events 2 ms apart) and `llama` (llama-server with the test model).
Every round measures `direct` and then each proxy, so each ratio compares figures taken moments apart on
this shared, noisy machine; the report gives the median over rounds of those per-round comparisons.
"""
import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROXIES = ["ai-sysadmin-api", "nginx", "nio-floor", "smg", "litellm"]
MODEL_ID = "ai-sysadmin-meta"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat_body(stream, max_tokens):
    return json.dumps({"model": MODEL_ID, "stream": stream, "max_tokens": max_tokens, "temperature": 0,
                       "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]})


class Processes:
    """Everything this run started, each in its own process group, stopped together at the end."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.started = []

    def start(self, name, argv, env=None):
        log = open(self.workdir / f"{name}.log", "wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
        self.started.append(process)
        return process

    def stop(self, process):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self):
        for process in reversed(self.started):
            try:
                self.stop(process)
            except ProcessLookupError:
                pass


def nginx_config(workdir, name, port, worker_processes, body):
    directory = workdir / name
    directory.mkdir(exist_ok=True)
    temp = " ".join(f"{kind}_temp_path {directory}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    path = directory / "nginx.conf"
    path.write_text(f"""
worker_processes {worker_processes};
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  {temp}
  keepalive_requests 1000000;
  {body}
}}
""")
    return path


def start_instant_upstream(procs, port):
    completion = json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello."}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}})
    models = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model", "created": 1, "owned_by": "bench"}]})
    config = nginx_config(procs.workdir, "upstream-nginx", port, 1, f"""
  access_log off;
  server {{
    listen 127.0.0.1:{port};
    default_type application/json;
    location = /health {{ return 200 '{{"status":"ok"}}'; }}
    location = /v1/models {{ return 200 '{models}'; }}
    location / {{ return 200 '{completion}'; }}
  }}""")
    return procs.start("upstream-nginx", ["nginx", "-c", str(config), "-e", str(config.parent / "error.log")])


def start_proxy(procs, args, name, port, upstream, upstream_kind):
    workdir = procs.workdir
    if name == "ai-sysadmin-api":
        state = workdir / f"gateway-state-{upstream_kind}"
        state.mkdir(exist_ok=True)
        config = {"stateDirectory": str(state),
                  "models": {"meta": {"backend": "remote", "url": upstream}},
                  "api": {"port": port, "supervised": False, "maxQueue": 1024}}
        if upstream_kind != "llama":
            config["api"]["maxInFlight"] = 1024  # canned upstreams have no /props to learn slots from
        path = workdir / f"gateway-{upstream_kind}.json"
        path.write_text(json.dumps(config))
        return procs.start(f"gateway-{upstream_kind}", [args.gateway, "--config", str(path)])
    if name == "nginx":
        host_port = upstream.removeprefix("http://")
        config = nginx_config(workdir, f"proxy-nginx-{upstream_kind}", port, "auto", f"""
  access_log {workdir}/proxy-nginx-{upstream_kind}/access.log;
  upstream meta {{ server {host_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://meta;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }}
  }}""")
        return procs.start(f"proxy-nginx-{upstream_kind}", ["nginx", "-c", str(config), "-e", str(config.parent / "error.log")])
    if name == "nio-floor":
        return procs.start(f"nio-floor-{upstream_kind}", [args.nio_floor, str(port), upstream.rsplit(":", 1)[1]])
    if name == "smg":
        smg = str(Path(args.tools_python).parent / "smg")
        return procs.start(f"smg-{upstream_kind}", [smg, "launch", "--host", "127.0.0.1", "--port", str(port),
                                                     "--worker-urls", upstream, "--backend", "openai",
                                                     "--log-level", "warn", "--max-concurrent-requests", "1024"])
    if name == "litellm":
        config = workdir / f"litellm-{upstream_kind}.yaml"
        config.write_text(json.dumps({  # YAML is a superset of JSON
            "model_list": [{"model_name": MODEL_ID,
                            "litellm_params": {"model": "openai/bench", "api_base": upstream + "/v1", "api_key": "none"}}],
            "litellm_settings": {"telemetry": False, "turn_off_message_logging": True}}))
        litellm = str(Path(args.tools_python).parent / "litellm")
        return procs.start(f"litellm-{upstream_kind}", [litellm, "--config", str(config), "--host", "127.0.0.1",
                                                        "--port", str(port), "--num_workers", "1"],
                           env={"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"})
    raise ValueError(name)


def post(url, body, timeout=30):
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    path = "/" + url.removeprefix("http://").split("/", 1)[1]
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body.encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def wait_until_answering(base, process, name, deadline_seconds=180):
    deadline = time.monotonic() + deadline_seconds
    last = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}; see its log")
        try:
            status, data = post(base + "/v1/chat/completions", chat_body(False, 1), timeout=10)
            if status == 200:
                return
            last = data[:300]
        except OSError as error:
            last = error
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer a chat completion within {deadline_seconds} s: {last}")


def wrk(url, body, connections, duration, workdir, path="/v1/chat/completions"):
    """wrk with one thread (the machine has two cores to share with the proxy and the upstream); `body` None
    for a GET."""
    script = []
    if body is not None:
        (workdir / "post.lua").write_text((HERE / "post.lua").read_text().replace("BODY", json.dumps(body)))
        script = ["-s", str(workdir / "post.lua")]
    output = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *script, url + path],
                            capture_output=True, text=True, check=True).stdout
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}

    def latency(label):
        value, suffix = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M).groups()
        return float(value) * unit[suffix]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    failed = (int(errors.group(1)) if errors else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return {"rps": rate * (requests - min(failed, requests)) / max(requests, 1), "p50_ms": latency("50%"),
            "p99_ms": latency("99%"), "failed": failed, "requests": requests}


async def one_stream(url, body):
    """Times one streamed chat completion: first event, and every event's arrival after the request."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    start = time.perf_counter()
    writer.write(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body.encode())
    await writer.drain()
    data, seen, arrivals = b"", 0, []
    while b"data: [DONE]" not in data:
        chunk = await reader.read(65536)
        if not chunk:
            break
        now = time.perf_counter() - start
        data += chunk
        count = data.count(b"data: {")
        arrivals += [now] * (count - seen)
        seen = count
    writer.close()
    if not arrivals or b"data: [DONE]" not in data or b'"error"' in data:
        # Counted, not fatal: nginx, for one, answers 502 when it reuses a connection llama-server just closed.
        print(f"  {url}: a stream failed: {data[-200:]!r}", file=sys.stderr, flush=True)
        return None
    return arrivals


async def streams(url, body, concurrency, count):
    gate = asyncio.Semaphore(concurrency)

    async def limited():
        async with gate:
            return await one_stream(url, body)

    results = await asyncio.gather(*(limited() for _ in range(count)))
    done = [r for r in results if r is not None]
    if not done:
        raise RuntimeError(f"{url}: every stream failed")
    return {"ttfe_ms": statistics.median(r[0] for r in done) * 1e3,
            "event_ms": statistics.median(statistics.fmean(r) for r in done) * 1e3, "failed": len(results) - len(done)}


def process_tree_rss_kib(root, field="VmRSS"):
    """The sum of `field` (VmRSS, or RssAnon for the private part) over `root` and its descendants."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                pass
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        try:
            total += int(re.search(rf"{field}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
        except (OSError, AttributeError):
            pass
    return total


def process_tree_cpu_seconds(root):
    """User and system CPU time of `root` and its descendants so far (nginx's work is done by its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                pass
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending += [child for child, fields in stats.items() if int(fields[1]) == pid]
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])
    return total / ticks


def measured_wrk(url, body, connections, duration, workdir, pid, path="/v1/chat/completions"):
    """wrk, plus the CPU the target's process tree spent per request while it ran."""
    before = process_tree_cpu_seconds(pid)
    result = wrk(url, body, connections, duration, workdir, path)
    result["cpu_us_per_request"] = (process_tree_cpu_seconds(pid) - before) / max(result["requests"], 1) * 1e6
    return result


async def rss_under_streams(url, body, root, count):
    peak = process_tree_rss_kib(root)
    task = asyncio.ensure_future(streams(url, body, count, count))
    while not task.done():
        peak = max(peak, process_tree_rss_kib(root))
        await asyncio.sleep(0.02)
    await task
    return peak


def median_of(rounds, key, target, relative):
    values = []
    for measured in rounds:
        base, value = measured["direct"][key], measured[target][key]
        values.append(value / base if relative else value - base)
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--nio-floor", help="benchmarks/nio-floor's nio-floor-proxy (needed when it is among --proxies)")
    parser.add_argument("--llama-server", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tools-python", required=True, help="python of the venv with sglang-router and litellm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--proxies", default=",".join(PROXIES))
    parser.add_argument("--upstreams", default="instant,stream,llama")
    parser.add_argument("--raw", help="write every measurement as JSON here")
    args = parser.parse_args()
    proxies = args.proxies.split(",")
    if "nio-floor" in proxies and not args.nio_floor:
        parser.error("--nio-floor BIN is needed to run nio-floor (or leave it out of --proxies)")
    targets = ["direct"] + proxies
    workdir = Path(tempfile.mkdtemp(prefix="ais-gwbench-"))
    procs = Processes(workdir)
    raw = {"proxies": proxies}
    try:
        for upstream_kind in args.upstreams.split(","):
            upstream_port = free_port()
            if upstream_kind == "instant":
                upstream_process = start_instant_upstream(procs, upstream_port)
            elif upstream_kind == "stream":
                upstream_process = procs.start("upstream-stream", [sys.executable, str(HERE / "canned_stream_upstream.py"),
                                                                   str(upstream_port)])
            else:
                upstream_process = procs.start("upstream-llama", [
                    args.llama_server, "-m", args.model, "--host", "127.0.0.1", "--port", str(upstream_port),
                    "-c", "4096", "-np", "4", "-t", "2", "--no-webui"])
            upstream = f"http://127.0.0.1:{upstream_port}"
            wait_until_answering(upstream, upstream_process, f"the {upstream_kind} upstream")
            bases = {"direct": upstream}
            processes = {"direct": upstream_process}
            for name in proxies:
                port = free_port()
                processes[name] = start_proxy(procs, args, name, port, upstream, upstream_kind)
                bases[name] = f"http://127.0.0.1:{port}"
            for name in proxies:
                wait_until_answering(bases[name], processes[name], name)
            print(f"# {upstream_kind}: all targets answer; {args.rounds} rounds", file=sys.stderr, flush=True)

            results = raw.setdefault(upstream_kind, {})
            if upstream_kind == "stream":
                body = chat_body(True, 16)
                results["rss_idle_kib"] = {name: process_tree_rss_kib(processes[name].pid) for name in proxies}
                results["anon_idle_kib"] = {name: process_tree_rss_kib(processes[name].pid, "RssAnon") for name in proxies}
                for concurrency, count in ((1, 20), (32, 96)):
                    rounds = results.setdefault(f"streams_c{concurrency}", [])
                    for round_number in range(args.rounds):
                        rounds.append({t: asyncio.run(streams(bases[t], body, concurrency, count)) for t in targets})
                        print(f"  streams c={concurrency} round {round_number + 1}", file=sys.stderr, flush=True)
                results["rss_256_streams_kib"] = {
                    name: asyncio.run(rss_under_streams(bases[name], body, processes[name].pid, 256)) for name in proxies}
                results["rss_after_kib"] = {name: process_tree_rss_kib(processes[name].pid) for name in proxies}
                results["anon_after_kib"] = {name: process_tree_rss_kib(processes[name].pid, "RssAnon") for name in proxies}
            else:
                body = chat_body(False, 1)
                for connections in (1, 64):
                    rounds = results.setdefault(f"wrk_c{connections}", [])
                    for round_number in range(args.rounds):
                        rounds.append({t: measured_wrk(bases[t], body, connections, args.duration, workdir, processes[t].pid)
                                       for t in targets})
                        print(f"  wrk c={connections} round {round_number + 1}", file=sys.stderr, flush=True)
                if upstream_kind == "instant":
                    results["rss_after_c64_kib"] = {name: process_tree_rss_kib(processes[name].pid) for name in proxies}
                if upstream_kind == "instant" and "ai-sysadmin-api" in proxies:
                    # The floor: a route that never reaches the upstream (nginx's canned /health directly).
                    for connections in (1, 64):
                        rounds = results.setdefault(f"floor_c{connections}", [])
                        for _ in range(args.rounds):
                            rounds.append({t: wrk(bases[t], None, connections, args.duration, workdir, "/health")
                                           for t in ("direct", "ai-sysadmin-api")})
                if upstream_kind == "llama":
                    rounds = results.setdefault("streams_c1", [])
                    for round_number in range(args.rounds):
                        rounds.append({t: asyncio.run(streams(bases[t], chat_body(True, 16), 1, 5)) for t in targets})
            for name in proxies:
                procs.stop(processes[name])
            procs.stop(upstream_process)
    finally:
        procs.stop_all()
    if args.raw:
        Path(args.raw).write_text(json.dumps(raw, indent=1))
    report(raw, proxies)


def goals(raw, proxies):
    """ai-sysadmin-api against nginx, each figure compared within one round (issue 16's table); and nio-floor the
    same way, for what NIO itself reaches on this machine."""
    if not {"ai-sysadmin-api", "nginx"} <= set(proxies):
        return
    nginx = "nginx"
    compared = [name for name in ("ai-sysadmin-api", "nio-floor") if name in proxies]
    print("\n## Against nginx (medians over rounds of per-round comparisons)\n")
    print("| figure | nginx | " + " | ".join(f"{name} | {name} vs nginx" for name in compared) + " | goal (ai-sysadmin-api) |")
    print("|---|---|" + "---|---|" * len(compared) + "---|")

    def row(figure, nginx_value, cells, goal):
        print(f"| {figure} | {nginx_value} | " + " | ".join(f"{value} | {ratio}" for value, ratio in cells) + f" | {goal} |")

    for connections in (1, 64):
        rounds = raw.get("instant", {}).get(f"wrk_c{connections}")
        if not rounds:
            continue
        row(f"throughput at c{connections}, instant upstream (req/s)", f"{statistics.median(r[nginx]['rps'] for r in rounds):.0f}",
            [(f"{statistics.median(r[name]['rps'] for r in rounds):.0f}",
              f"{statistics.median(r[name]['rps'] / r[nginx]['rps'] for r in rounds):.2f}×") for name in compared], "≥ 0.85×")
        row(f"proxy CPU per request at c{connections} (µs)", f"{statistics.median(r[nginx]['cpu_us_per_request'] for r in rounds):.1f}",
            [(f"{statistics.median(r[name]['cpu_us_per_request'] for r in rounds):.1f}",
              f"{statistics.median(r[name]['cpu_us_per_request'] / r[nginx]['cpu_us_per_request'] for r in rounds):.2f}×")
             for name in compared], "≤ 1.5×")
    for key in ("streams_c1", "streams_c32"):
        rounds = raw.get("stream", {}).get(key)
        if not rounds:
            continue
        added = lambda target: statistics.median(r[target]["ttfe_ms"] - r["direct"]["ttfe_ms"] for r in rounds)
        row(f"added time to first event, {key.removeprefix('streams_')} (ms)", f"{added(nginx):+.2f}",
            [(f"{added(name):+.2f}", f"{statistics.median(r[name]['ttfe_ms'] - r[nginx]['ttfe_ms'] for r in rounds):+.2f} ms")
             for name in compared], "≤ +0.2 ms")
    stream, instant = raw.get("stream", {}), raw.get("instant", {})
    if "rss_idle_kib" in stream:
        row("RSS idle (MiB)", f"{stream['rss_idle_kib'][nginx] / 1024:.1f}",
            [(f"{stream['rss_idle_kib'][name] / 1024:.1f}", "") for name in compared], "≤ 20")
    if "rss_after_c64_kib" in instant:
        row("RSS after the c64 runs (MiB)", f"{instant['rss_after_c64_kib'][nginx] / 1024:.1f}",
            [(f"{instant['rss_after_c64_kib'][name] / 1024:.1f}", "") for name in compared], "≤ 30")


def report(raw, proxies):
    print("\n## Throughput and latency (wrk, Lua POST of a non-streamed chat completion)\n")
    print("Per round each proxy's figure is compared with `direct` measured moments before; medians over rounds.\n")
    print("| upstream | concurrency | target | req/s | ratio to direct | p50 ms | added p50 ms | p99 ms | added p99 ms | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for upstream_kind in ("instant", "llama"):
        for connections in (1, 64):
            rounds = raw.get(upstream_kind, {}).get(f"wrk_c{connections}")
            if not rounds:
                continue
            for target in ["direct"] + proxies:
                rps = statistics.median(r[target]["rps"] for r in rounds)
                p50 = statistics.median(r[target]["p50_ms"] for r in rounds)
                p99 = statistics.median(r[target]["p99_ms"] for r in rounds)
                failed = sum(r[target]["failed"] for r in rounds)
                if target == "direct":
                    print(f"| {upstream_kind} | {connections} | direct | {rps:.0f} | 1 | {p50:.3f} | — | {p99:.3f} | — | {failed} |")
                else:
                    print(f"| {upstream_kind} | {connections} | {target} | {rps:.0f} | {median_of(rounds, 'rps', target, True):.3f} "
                          f"| {p50:.3f} | {median_of(rounds, 'p50_ms', target, False):+.3f} | {p99:.3f} "
                          f"| {median_of(rounds, 'p99_ms', target, False):+.3f} | {failed} |")
    goals(raw, proxies)
    floor = [raw.get("instant", {}).get(f"floor_c{c}") for c in (1, 64)]
    if all(floor):
        print("\n## The floor: GET /health, answered without the upstream\n")
        print("What the HTTP server alone costs: ai-sysadmin-api's `/health` against nginx's canned `/health`.\n")
        print("| concurrency | target | req/s | ratio | p50 ms | added p50 ms |")
        print("|---|---|---|---|---|---|")
        for connections, rounds in zip((1, 64), floor):
            direct_rps = statistics.median(r["direct"]["rps"] for r in rounds)
            direct_p50 = statistics.median(r["direct"]["p50_ms"] for r in rounds)
            print(f"| {connections} | nginx (direct) | {direct_rps:.0f} | 1 | {direct_p50:.3f} | — |")
            print(f"| {connections} | ai-sysadmin-api | {statistics.median(r['ai-sysadmin-api']['rps'] for r in rounds):.0f} "
                  f"| {median_of(rounds, 'rps', 'ai-sysadmin-api', True):.3f} "
                  f"| {statistics.median(r['ai-sysadmin-api']['p50_ms'] for r in rounds):.3f} "
                  f"| {median_of(rounds, 'p50_ms', 'ai-sysadmin-api', False):+.3f} |")
    print("\n## Streams (time to first event; mean arrival of an event after the request)\n")
    print("| upstream | concurrency | target | first event ms | added ms | per event ms | added per event ms | failed streams |")
    print("|---|---|---|---|---|---|---|---|")
    for upstream_kind, keys in (("stream", ("streams_c1", "streams_c32")), ("llama", ("streams_c1",))):
        for key in keys:
            rounds = raw.get(upstream_kind, {}).get(key)
            if not rounds:
                continue
            for target in ["direct"] + proxies:
                ttfe = statistics.median(r[target]["ttfe_ms"] for r in rounds)
                event = statistics.median(r[target]["event_ms"] for r in rounds)
                added = "—" if target == "direct" else f"{median_of(rounds, 'ttfe_ms', target, False):+.3f}"
                added_event = "—" if target == "direct" else f"{median_of(rounds, 'event_ms', target, False):+.3f}"
                failed = sum(r[target].get("failed", 0) for r in rounds)
                print(f"| {upstream_kind} | {key.removeprefix('streams_c')} | {target} | {ttfe:.3f} | {added} | {event:.3f} | {added_event} "
                      f"| {failed} |")
    stream = raw.get("stream", {})
    if "rss_idle_kib" in stream:
        print("\n## Memory (RSS of the proxy's process tree, MiB)\n")
        print("Idle is after start-up and one request per measurement; anonymous memory is the private part, the")
        print("rest is shared library and executable pages.\n")
        print("| target | idle | of which anonymous | peak during 256 concurrent streams | after | of which anonymous |")
        print("|---|---|---|---|---|---|")
        for name in proxies:
            print(f"| {name} | {stream['rss_idle_kib'][name] / 1024:.1f} | {stream['anon_idle_kib'][name] / 1024:.1f} "
                  f"| {stream['rss_256_streams_kib'][name] / 1024:.1f} | {stream['rss_after_kib'][name] / 1024:.1f} "
                  f"| {stream['anon_after_kib'][name] / 1024:.1f} |")


if __name__ == "__main__":
    main()
