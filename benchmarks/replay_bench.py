#!/usr/bin/env python3
"""Layer 1 throughput: `ai-sysadmin replay` against Drain3 on the same file, in the same rounds.

usage: replay_bench.py AI_SYSADMIN TOOLS_PYTHON LLAMA_SERVER MODEL [--lines N] [--rounds R]

- The file: N syslog lines (seeded, so every run parses the same bytes) of twelve kinds of line with varying
  numbers, addresses, users, paths and durations.
- ai-sysadmin: `replay --rules-only --json`, i.e. with every template's verdict already known (a warm
  template cache: no model call on the hot path); it also parses the syslog header of every line.
- Drain3 (PyPI drain3, pinned in run-replay.sh): `TemplateMiner.add_log_message` on the message part, which
  this script splits off beforehand, once with Drain3's defaults (no masking) and once with masking rules
  equivalent to ours (IPs, numbers, hex, paths, UUIDs).
- Model calls per 10,000 lines: one `replay` against llama-server with the test model.
- Peak RSS of the replay process (ru_maxrss).
Each round times every contender back to back; the report gives the median of the per-round ratios.
"""
import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DRAIN = r'''
import json, sys, time
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
from drain3.masking import MaskingInstruction
path, masking = sys.argv[1], sys.argv[2] == "masking"
messages = []
with open(path) as f:
    for line in f:
        head, sep, message = line.rstrip("\n").partition(": ")
        messages.append(message if sep else line)
config = TemplateMinerConfig()
config.profiling_enabled = False
if masking:
    config.masking_instructions = [
        MaskingInstruction(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(/[^\s]+)((?=\s)|$)", "PATH"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+(\.\d+)?(ms|s|us)?)((?=[^A-Za-z0-9])|$)", "NUM"),
    ]
miner = TemplateMiner(config=config)
start = time.perf_counter()
for message in messages:
    miner.add_log_message(message)
seconds = time.perf_counter() - start
print(json.dumps({"lines": len(messages), "templates": len(miner.drain.clusters), "seconds": seconds}))
'''


def make_log(path, count):
    rng = random.Random(20261125)
    users = ["root", "admin", "alice", "bob", "git", "deploy"]
    kinds = [
        lambda i: f"sshd[{rng.randint(300, 65000)}]: Failed password for {rng.choice(users)} from 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)} port {rng.randint(1024, 65535)} ssh2",
        lambda i: f"sshd[{rng.randint(300, 65000)}]: Accepted publickey for {rng.choice(users)} from 192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)} port {rng.randint(1024, 65535)} ssh2",
        lambda i: f"systemd[1]: Started Session {rng.randint(1, 99999)} of User {rng.choice(users)}.",
        lambda i: f"kernel: Out of memory: Killed process {rng.randint(100, 99999)} (java) total-vm:{rng.randint(10**5, 10**7)}kB, anon-rss:{rng.randint(10**4, 10**6)}kB",
        lambda i: f"nginx[{rng.randint(100, 999)}]: 10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)} - - \"GET /api/v1/items/{rng.randint(1, 10**6)} HTTP/1.1\" 200 {rng.randint(10, 99999)}",
        lambda i: f"CRON[{rng.randint(100, 99999)}]: (root) CMD (/usr/local/bin/backup.sh --run {rng.randint(0, 9)})",
        lambda i: f"systemd[1]: app{rng.randint(0, 40)}.service: Main process exited, code=exited, status={rng.randint(1, 3)}/FAILURE",
        lambda i: f"postgres[{rng.randint(100, 9999)}]: LOG: duration: {rng.randint(0, 9999)}.{rng.randint(0, 999)} ms statement: SELECT * FROM orders WHERE id={rng.randint(1, 10**7)}",
        lambda i: f"kernel: EXT4-fs error (device sda{rng.randint(1, 4)}): ext4_find_entry:{rng.randint(1000, 2000)}: inode #{rng.randint(1, 10**6)}: comm find: reading directory lblock 0",
        lambda i: f"dockerd[{rng.randint(100, 999)}]: container {rng.getrandbits(48):012x} health status changed to healthy after {rng.randint(1, 900)}ms",
        lambda i: f"sudo[{rng.randint(100, 99999)}]: {rng.choice(users)} : TTY=pts/{rng.randint(0, 9)} ; PWD=/home/{rng.choice(users)} ; USER=root ; COMMAND=/usr/bin/systemctl restart app{rng.randint(0, 40)}",
        lambda i: f"app[{rng.randint(100, 9999)}]: request {rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-a{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x} served in {rng.randint(1, 999)}.{rng.randint(0, 9)}ms",
    ]
    with open(path, "w") as f:
        for i in range(count):
            f.write(f"Nov 25 {10 + i % 12:02d}:{i % 60:02d}:{(i * 7) % 60:02d} web1 {kinds[i % len(kinds)](i)}\n")


def timed(argv):
    """Runs `argv`, returns (its stdout as JSON, its own peak RSS in KiB, from wait4)."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited with {process.returncode}")
        output.seek(0)
        return json.loads(output.read()), usage.ru_maxrss


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_calls(binary, llama_server, model, path, workdir):
    key = workdir / "key"
    subprocess.run([binary, "model-key", str(key)], check=True)
    port = free_port()
    server = subprocess.Popen([llama_server, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-c", "4096", "-np", "1",
                               "-t", "2", "--no-webui", "--api-key-file", str(key)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # replay refuses to start while the server loads; retry until it is up.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            result = subprocess.run([binary, "replay", str(path), "--json", "--trigger-url", f"http://127.0.0.1:{port}",
                                     "--trigger-key-file", str(key)], capture_output=True, text=True)
            if result.returncode == 0:
                return json.loads(result.stdout)["statistics"]
            if "not available" not in result.stderr and "loading" not in result.stderr:
                break
            time.sleep(0.5)
        raise RuntimeError(f"replay against llama-server failed: {result.stderr}")
    finally:
        server.kill()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("tools_python")
    parser.add_argument("llama_server")
    parser.add_argument("model")
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ais-replaybench-"))
    log = workdir / "syslog.log"
    make_log(log, args.lines)
    drain = workdir / "drain_bench.py"
    drain.write_text(DRAIN)
    rounds = []
    for number in range(args.rounds):
        ours, rss = timed([args.binary, "replay", str(log), "--rules-only", "--json"])
        plain, _ = timed([args.tools_python, str(drain), str(log), "plain"])
        masked, _ = timed([args.tools_python, str(drain), str(log), "masking"])
        ours_rate = ours["statistics"]["lines"] / ours["seconds"]
        rounds.append({"ours": ours_rate, "templates": ours["statistics"]["templates"], "rss_kib": rss,
                       "drain_plain": plain["lines"] / plain["seconds"], "drain_plain_templates": plain["templates"],
                       "drain_masked": masked["lines"] / masked["seconds"], "drain_masked_templates": masked["templates"]})
        print(f"  round {number + 1}: {ours_rate:.0f} lines/s vs Drain3 {rounds[-1]['drain_masked']:.0f} (masking), "
              f"{rounds[-1]['drain_plain']:.0f} (defaults)", file=sys.stderr, flush=True)
    calls = model_calls(args.binary, args.llama_server, args.model, log, workdir)

    median = lambda key: statistics.median(r[key] for r in rounds)
    ratio = lambda key: statistics.median(r["ours"] / r[key] for r in rounds)
    print(f"\n| contender | lines/s (median) | templates | ratio of ai-sysadmin to it |")
    print("|---|---|---|---|")
    print(f"| ai-sysadmin replay (syslog parsing + masking + mining, warm verdicts) | {median('ours'):.0f} | {rounds[0]['templates']} | — |")
    print(f"| Drain3 with masking equivalent to ours (message only) | {median('drain_masked'):.0f} | {rounds[0]['drain_masked_templates']} | {ratio('drain_masked'):.1f}× |")
    print(f"| Drain3 defaults, no masking (message only) | {median('drain_plain'):.0f} | {rounds[0]['drain_plain_templates']} | {ratio('drain_plain'):.1f}× |")
    print(f"\n- lines: {args.lines}; rounds: {args.rounds}")
    print(f"- model calls with the trigger model (SmolLM2-135M on llama-server): {calls['modelCalls']} for "
          f"{calls['lines']} lines, {calls['modelCalls'] * 10000 / calls['lines']:.3f} per 10,000 lines "
          f"({calls['templates']} templates, {calls['classificationFailures']} classification failures)")
    print(f"- peak RSS of `replay --rules-only`: {median('rss_kib') / 1024:.1f} MiB (median)")


if __name__ == "__main__":
    main()
