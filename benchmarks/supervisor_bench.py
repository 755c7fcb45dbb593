#!/usr/bin/env python3
"""Supervisor benchmarks: parallel start, restart after SIGKILL, idle cost. See benchmarks/README.md.

usage: supervisor_bench.py [--runs N] [--idle-seconds S] DAEMON_BINARY LLAMA_SERVER MODEL

Every figure is a median over --runs and is reported next to a baseline measured in the same run, because
this machine is shared and noisy. Prints a Markdown report on stdout.
"""
import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

LAYERS = ["trigger", "review", "meta"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control_status(state_dir):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(os.path.join(state_dir, "control.sock"))
        s.sendall(b'{"command":"status"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)["status"]["models"]


class Daemon:
    def __init__(self, binary, llama_server, model, layers):
        self.state_dir = tempfile.mkdtemp(prefix="ais-bench-", dir="/tmp")
        config = {
            "stateDirectory": self.state_dir,
            "llamaServer": llama_server,
            "models": {
                layer: {"enable": layer in layers, "model": model, "port": free_port(), "contextSize": 1024, "threads": 1}
                for layer in LAYERS
            },
        }
        self.config_path = os.path.join(self.state_dir, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        self.layers = layers
        self.binary = binary
        self.process = None

    def start(self):
        self.started = time.monotonic()
        self.process = subprocess.Popen([self.binary, "run", "--config", self.config_path, "--log-level", "error"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self, predicate, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                models = control_status(self.state_dir)
                if len(models) == len(self.layers) and predicate(models):
                    return time.monotonic(), models
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.005)
        raise TimeoutError(f"daemon in {self.state_dir} did not reach the expected state")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def all_ready(models):
    return all(m["state"] == "ready" for m in models)


def bench_parallel_start(args):
    singles = {layer: [] for layer in LAYERS}
    together = []
    direct = []
    for _ in range(args.runs):
        direct.append(direct_parallel_start(args))
        for layer in LAYERS:
            d = Daemon(args.daemon, args.llama_server, args.model, [layer])
            d.start()
            t, _ = d.wait(all_ready)
            singles[layer].append(t - d.started)
            d.stop()
        d = Daemon(args.daemon, args.llama_server, args.model, LAYERS)
        d.start()
        t, _ = d.wait(all_ready)
        together.append(t - d.started)
        d.stop()
    slowest_alone = max(statistics.median(v) for v in singles.values())
    all_three = statistics.median(together)
    return slowest_alone, all_three, statistics.median(direct)


def direct_parallel_start(args):
    """Three llama-servers started directly (no daemon) at once, until all answer /health 200: what
    loading three models at the same time costs on this machine by itself."""
    ports = [free_port() for _ in LAYERS]
    started = time.monotonic()
    processes = [subprocess.Popen([args.llama_server, "--host", "127.0.0.1", "--port", str(port), "--model", args.model,
                                   "--ctx-size", "1024", "--threads", "1", "--no-webui"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in ports]
    try:
        pending = set(ports)
        while pending:
            for port in list(pending):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                        if r.status == 200:
                            pending.discard(port)
                except OSError:
                    pass
            time.sleep(0.005)
        return time.monotonic() - started
    finally:
        for p in processes:
            p.kill()
            p.wait()


def llama_load_time(args):
    """The model's own load time: llama-server started directly, until /health answers 200."""
    port = free_port()
    started = time.monotonic()
    p = subprocess.Popen([args.llama_server, "--host", "127.0.0.1", "--port", str(port), "--model", args.model,
                          "--ctx-size", "1024", "--threads", "1", "--no-webui"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - started
            except OSError:
                time.sleep(0.005)
    finally:
        p.kill()
        p.wait()


def bench_restart(args):
    restarts, loads = [], []
    d = Daemon(args.daemon, args.llama_server, args.model, ["trigger"])
    d.start()
    d.wait(all_ready)
    for _ in range(args.runs):
        loads.append(llama_load_time(args))
        _, models = d.wait(all_ready)
        pid = models[0]["pid"]
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        t, _ = d.wait(lambda ms: all_ready(ms) and ms[0]["pid"] != pid)
        restarts.append(t - killed)
        # Let the failure count settle so every run measures a first failure, not a crash loop.
        time.sleep(65)
    d.stop()
    return statistics.median(loads), statistics.median(restarts)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid):
    """RSS, PSS (shared pages divided among their users) and private anonymous memory, in KiB."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss", "Anonymous"):
                values[key] = int(rest.split()[0])
    return values["Rss"], values["Pss"], values["Anonymous"]


def bench_idle(args):
    d = Daemon(args.daemon, args.llama_server, args.model, LAYERS)
    d.start()
    _, models = d.wait(all_ready)
    time.sleep(2)
    child_pids = [m["pid"] for m in models]
    daemon_cpu0 = cpu_seconds(d.process.pid)
    child_cpu0 = [cpu_seconds(p) for p in child_pids]
    t0 = time.monotonic()
    samples = []
    while time.monotonic() - t0 < args.idle_seconds:
        samples.append(memory_kib(d.process.pid))
        time.sleep(1)
    elapsed = time.monotonic() - t0
    daemon_cpu = (cpu_seconds(d.process.pid) - daemon_cpu0) / elapsed * 100
    child_cpu = statistics.median((cpu_seconds(p) - c0) / elapsed * 100 for p, c0 in zip(child_pids, child_cpu0))
    child = [memory_kib(p) for p in child_pids]
    d.stop()
    daemon_memory = [statistics.median(s[i] for s in samples) / 1024 for i in range(3)]
    child_memory = [statistics.median(c[i] for c in child) / 1024 for i in range(3)]
    return daemon_memory, daemon_cpu, child_memory, child_cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=int, default=60)
    parser.add_argument("--sections", default="start,restart,idle",
                        help="comma-separated: start, restart (waits 65 s per run), idle")
    parser.add_argument("daemon")
    parser.add_argument("llama_server")
    parser.add_argument("model")
    args = parser.parse_args()

    print(f"- machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"- runs: {args.runs} (medians)\n")
    sections = args.sections.split(",")
    if "start" in sections:
        slowest_alone, all_three, direct = bench_parallel_start(args)
        print("## Start to all-Ready\n")
        print("| slowest server started alone by the daemon (baseline) | all three by the daemon | ratio |\n|---|---|---|")
        print(f"| {slowest_alone:.3f} s | {all_three:.3f} s | {all_three / slowest_alone:.2f} |\n")
        print("| three llama-servers started directly at once, no daemon (baseline) | all three by the daemon | ratio |\n|---|---|---|")
        print(f"| {direct:.3f} s | {all_three:.3f} s | {all_three / direct:.2f} |\n")
        sys.stdout.flush()
    if "restart" in sections:
        load, restart = bench_restart(args)
        print("## SIGKILL to Ready again\n")
        print("| llama-server's own load time (baseline) | SIGKILL → Ready via the daemon | ratio | systemd Restart=always, RestartSec=10s |\n|---|---|---|---|")
        print(f"| {load:.3f} s | {restart:.3f} s | {restart / load:.2f} | ≥ 10 s (≥ {10 / load:.0f}× the load time) |\n")
        sys.stdout.flush()
    if "idle" not in sections:
        return
    memory, cpu, child_memory, child_cpu = bench_idle(args)
    print(f"## Idle cost with three Ready servers ({args.idle_seconds} s)\n")
    print("| | daemon | one idle llama-server (baseline) | ratio |\n|---|---|---|---|")
    for label, ours, theirs in zip(["RSS", "PSS", "private anonymous"], memory, child_memory):
        print(f"| {label} | {ours:.1f} MiB | {theirs:.1f} MiB | {ours / theirs:.2f} |")
    print(f"| CPU | {cpu:.3f} % | {child_cpu:.3f} % | {cpu / child_cpu if child_cpu else float('nan'):.2f} |")


if __name__ == "__main__":
    main()
