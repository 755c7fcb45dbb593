#!/usr/bin/env python3
"""Trigger-model calls for N hosts meeting the same log, with and without the fleet's shared verdicts.

usage: fleet_verdicts.py AI_SYSADMIN LLAMA_SERVER MODEL [--hosts N] [--kinds K] [--repeats R] [--rounds R] [--pace S]

Each host is `ai-sysadmin run` with its own trigger model (llama-server with MODEL, managed by the daemon), Layer 1
following a log file of its own, store.backend postgresql under its own role on a private PostgreSQL (fleet_bench.py's),
reviews, metrics and chat off. The log: K kinds of lines (each a template Layer 1 asks its model about once), each
R times, interleaved, written as a live log is: a line every S seconds (Layer 1 asks about the kinds that arrived
together in one request, so a log written at once costs fewer calls). As a fleet meets a new kind of line: host 1
first (the deploy, the first to fail), and once it has judged and published what it saw, the other N-1 hosts at once. Then each host's `status --json` says how many
requests its trigger model answered (`monitoring.modelCalls`) and how many verdicts it took from the fleet
(`monitoring.sharedVerdicts`).

Each round runs both modes on fresh hosts and an empty verdict table: the baseline with `shareVerdicts` false (every
host asks its own model about every kind), then with it true. The report gives, per mode, the median over rounds of
the fleet's model calls, and the ratio shared/baseline as the median of each round's ratio.
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_bench import PrivatePostgres, free_port, postgres_version  # noqa: E402

WORDS = ["disk", "queue", "cache", "lease", "socket", "backup", "cron", "mailer", "index", "ledger", "session", "upload",
         "billing", "search", "export", "import", "thumbnail", "webhook", "payment", "auth"]


def log_lines(kinds, repeats):
    """K kinds, R times each, interleaved: the first word tells kinds apart (the template miner branches on it)."""
    lines = []
    for repeat in range(repeats):
        for kind in range(kinds):
            word = WORDS[kind % len(WORDS)] + ("" if kind < len(WORDS) else str(kind // len(WORDS)))
            lines.append(f"Nov 25 10:{repeat % 60:02d}:{kind % 60:02d} web1 app[{100 + kind}]: "
                         f"{word} worker stopped after {repeat * 7 + kind} ms on shard {repeat % 5}\n")
    return lines


class Host:
    def __init__(self, binary, llama_server, model, postgres, workdir, name, share):
        self.binary = binary
        self.name = name
        self.directory = workdir / name
        self.directory.mkdir()
        self.log = self.directory / "app.log"
        self.log.touch()
        postgres.run(subprocess.run([binary, "fleet", "role", "host", name], capture_output=True, text=True, check=True).stdout)
        postgres.run(f"ALTER ROLE ais_host_{name} PASSWORD '{name}-password'")
        (self.directory / "password").write_text(f"{name}-password")
        config = {
            "stateDirectory": str(self.directory),
            "llamaServer": llama_server,
            "models": {
                "trigger": {"model": model, "port": free_port(), "contextSize": 2048, "threads": 1},
                "review": {"enable": False},
                "meta": {"enable": False},
            },
            "api": {"supervised": False},
            "chat": {"enable": False},
            "monitoring": {"files": [str(self.log)], "flushSeconds": 0.2, "metrics": {"enable": False}, "review": {"enable": False}},
            "store": {"backend": "postgresql",
                      "postgresql": {"url": postgres.url(f"ais_host_{name}"), "passwordFile": str(self.directory / "password"),
                                     "publishIntervalSeconds": 0.3, "shareVerdicts": share}},
        }
        self.config = self.directory / "config.json"
        self.config.write_text(json.dumps(config))
        subprocess.run([binary, "config", "check", str(self.config)], check=True, capture_output=True)
        self.process = None

    def start(self):
        self.process = subprocess.Popen([self.binary, "run", "--config", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.directory / "daemon.log", "w"))

    def status(self):
        result = subprocess.run([self.binary, "status", "--json", "--state-dir", str(self.directory)], capture_output=True, text=True)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def wait_ready(self, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status and all(model["state"] == "ready" for model in status["models"]) and status.get("monitoring"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not get ready; see {self.directory / 'daemon.log'}")

    def write(self, lines):
        with open(self.log, "a") as f:
            f.writelines(lines)


    def settled(self, lines):
        """Every line read and judged: the file's cursor at its end, nothing waiting for a verdict."""
        status = self.status()
        if not status:
            return False
        monitoring = status["monitoring"]
        store = sqlite3.connect(f"file:{self.directory / 'ai-sysadmin.sqlite'}?mode=ro", uri=True)
        try:
            row = store.execute("SELECT value FROM cursor WHERE source = ?", (f"file:{self.log}",)).fetchone()
        finally:
            store.close()
        offset = dict(part.split("=") for part in (row[0] if row else "").split(";") if "=" in part).get("offset")
        return (offset == str(self.log.stat().st_size) and monitoring["templatesWaiting"] == 0 and monitoring["linesHeld"] == 0
                and monitoring["provisionalLines"] == 0)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise RuntimeError(f"{self.name} did not stop within 30 s of SIGTERM; see {self.directory / 'daemon.log'}")


def replay(hosts, lines, pace):
    """`lines` into every host's log at once, one every `pace` seconds."""
    for line in lines:
        for host in hosts:
            host.write([line])
        time.sleep(pace)


def wait(condition, what, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.3)


def run_fleet(args, postgres, workdir, round_number, share):
    """The fleet's model calls: host 1 meets the log first, then the others at once."""
    postgres.run("DELETE FROM verdict")
    tag = "s" if share else "b"
    hosts = [Host(args.binary, args.llama_server, args.model, postgres, workdir, f"r{round_number}{tag}{index}", share)
             for index in range(args.hosts)]
    lines = log_lines(args.kinds, args.repeats)
    try:
        for host in hosts:
            host.start()
        for host in hosts:
            host.wait_ready()
        first, others = hosts[0], hosts[1:]
        replay([first], lines, args.pace)
        wait(lambda: first.settled(lines), f"{first.name} to judge the log", 900)
        if share:
            # What it learned is in the fleet's database before the others meet it (a publication is every 0.3 s).
            learned = first.status()["monitoring"]["modelCalls"]
            wait(lambda: int(postgres.run(f"SELECT count(*) FROM verdict WHERE learned_by = '{first.name}'")) >= learned,
                 "the first host's verdicts to reach the fleet", 60)
        replay(others, lines, args.pace)
        for host in others:
            wait(lambda: host.settled(lines), f"{host.name} to judge the log", 900)
        counts = [(host.status()["monitoring"]["modelCalls"], host.status()["monitoring"]["sharedVerdicts"]) for host in hosts]
    finally:
        for host in hosts:
            host.stop()
    return {"calls": sum(calls for calls, _ in counts), "first": counts[0][0], "others": sum(calls for calls, _ in counts[1:]),
            "shared": sum(shared for _, shared in counts)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("llama_server")
    parser.add_argument("model")
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--kinds", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pace", type=float, default=0.5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ais-verdictbench-"))
    os.chmod(workdir, 0o755)  # the server runs as postgres and lives below it
    postgres = PrivatePostgres(workdir)
    rounds = []
    try:
        postgres.run(subprocess.run([args.binary, "fleet", "schema"], capture_output=True, text=True, check=True).stdout)
        for number in range(args.rounds):
            baseline = run_fleet(args, postgres, workdir, number, share=False)
            shared = run_fleet(args, postgres, workdir, number, share=True)
            rounds.append({"baseline": baseline, "shared": shared})
            print(f"<!-- round {number + 1}: {json.dumps(rounds[-1])} -->", flush=True)
    finally:
        postgres.stop()
    median = lambda mode, key: statistics.median(r[mode][key] for r in rounds)
    ratio = statistics.median(r["shared"]["calls"] / r["baseline"]["calls"] for r in rounds)
    print(f"- {args.hosts} hosts, each with its own trigger model ({Path(args.model).name}, llama-server, 1 thread); "
          f"a log of {args.kinds} kinds of lines × {args.repeats}, a line every {args.pace} s; {args.rounds} rounds; PostgreSQL {postgres_version()}, TLS")
    print()
    print("| mode | trigger-model calls, the fleet (median) | host 1 | the other hosts | verdicts taken from the fleet | ratio to the baseline |")
    print("|---|---|---|---|---|---|")
    print(f"| `shareVerdicts` false: the baseline | {median('baseline', 'calls'):.0f} | {median('baseline', 'first'):.0f} | "
          f"{median('baseline', 'others'):.0f} | {median('baseline', 'shared'):.0f} | 1.00× |")
    print(f"| `shareVerdicts` true | {median('shared', 'calls'):.0f} | {median('shared', 'first'):.0f} | "
          f"{median('shared', 'others'):.0f} | {median('shared', 'shared'):.0f} | {ratio:.2f}× |")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
