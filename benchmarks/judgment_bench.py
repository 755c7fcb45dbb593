#!/usr/bin/env python3
"""Layer 1's judgment on the shipped labelled corpus (benchmarks/judgment), as Markdown on stdout.

usage: judgment_bench.py AI_SYSADMIN LLAMA_SERVER MODEL [--rounds R] [--model-runs M]

- ai-sysadmin: `eval --rules-only --json` (signatures, error-rate trigger; no operator rules), R rounds; and
  `eval --trigger-url` against llama-server with the test model, M runs (each takes minutes on 2 cores).
- The baseline, in the same run: the pattern list of the system this project replaces, as its issue quotes it
  (case-insensitive regexes over the whole syslog line, each debounced 60 s), evaluated on the same labels by
  this script; once with its debounce, once without, and each pattern alone (which routine lines it hits).
Figures are medians over the runs; recall and false positives do not vary between rules-only runs (they are
printed from the last), the time does.
"""
import argparse
import csv
import datetime
import json
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "judgment" / "corpus.log"
LABELS = HERE / "judgment" / "labels.csv"

# The replaced system's trigger patterns: (pattern, severity); "high"/"medium"/"low" mapped to ours.
PREVIOUS = [
    (r"kernel:.*panic", "critical"), (r"Out of memory", "critical"), (r"segfault", "error"), (r"Failed to start", "error"),
    (r"FAILED", "warning"), (r"error.*authentication", "warning"), (r"Connection refused", "info"), (r"timeout", "info"),
]
SEVERITIES = ["normal", "info", "warning", "error", "critical"]


def load_labels():
    labels = {}
    with open(LABELS) as f:
        for row in csv.DictReader(f):
            labels[int(row["line"])] = row["label"]
    return labels


def previous_system(lines, labels, debounce, patterns=PREVIOUS):
    """Line-level figures of a pattern list: an event per matching line, at most one per pattern per 60 s."""
    compiled = [(re.compile(p, re.I), s) for p, s in patterns]
    last = {}
    incidents = found = at_severity = normals = false_alarms = flagged = 0
    for number, line in enumerate(lines, start=1):
        stamp = datetime.datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
        event = None
        for index, (regex, severity) in enumerate(compiled):
            if not regex.search(line):
                continue
            if debounce and stamp - last.get(index, -1e12) < 60:
                continue
            last[index] = stamp
            if event is None or SEVERITIES.index(severity) > SEVERITIES.index(event):
                event = severity
        label = labels.get(number, "normal")
        if event:
            flagged += 1
        if label in ("normal", "info"):
            normals += 1
            false_alarms += event is not None
        else:
            incidents += 1
            found += event is not None
            wanted = 2 if label == "alert" else SEVERITIES.index(label)
            at_severity += event is not None and SEVERITIES.index(event) >= wanted
    return {"recall": found / incidents, "severityRecall": at_severity / incidents, "precision": found / flagged if flagged else None,
            "falsePositiveRate": false_alarms / normals, "falseAlarms": false_alarms, "found": found, "incidents": incidents,
            "normals": normals}


def run_eval(binary, extra):
    started = time.perf_counter()
    result = subprocess.run([binary, "eval", str(CORPUS), "--labels", str(LABELS), "--json"] + extra, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"eval failed: {result.stderr}")
    return json.loads(result.stdout), seconds


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_test_model(llama_server, model, action):
    port = free_port()
    server = subprocess.Popen([llama_server, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-c", "4096", "-np", "1",
                               "-t", str(os.cpu_count()), "--no-webui"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                    if b" 200 " in s.recv(200):
                        break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("llama-server did not come up")
        return action(f"http://127.0.0.1:{port}")
    finally:
        server.kill()
        server.wait()


def percent(value):
    return "n/a" if value is None else f"{value * 100:.1f}%"


def row(name, lines, templates, calls_per_10k, seconds):
    return (f"| {name} | {percent(lines['recall'])} | {percent(lines['severityRecall'])} | {percent(lines['precision'])} | "
            f"{percent(lines['falsePositiveRate'])} | {templates} | {calls_per_10k} | {seconds} |")


def figures(score, key):
    part = score[key]
    return {name: part[name]["value"] for name in ("recall", "severityRecall", "precision", "falsePositiveRate")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("llama_server")
    parser.add_argument("model")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model-runs", type=int, default=1)
    args = parser.parse_args()

    lines = CORPUS.read_text().splitlines()
    labels = load_labels()
    rules_times, previous_times, rules = [], [], None
    for _ in range(args.rounds):
        rules, seconds = run_eval(args.binary, ["--rules-only"])
        rules_times.append(seconds)
        started = time.perf_counter()
        previous = previous_system(lines, labels, debounce=True)
        previous_times.append(time.perf_counter() - started)
    undebounced = previous_system(lines, labels, debounce=False)
    model_runs = []
    for _ in range(args.model_runs):
        model_runs.append(with_test_model(args.llama_server, args.model, lambda url: run_eval(args.binary, ["--trigger-url", url])))

    score = rules["score"]
    print(f"- corpus: `benchmarks/judgment/corpus.log` ({score['entries']} lines, {score['lines']['recall']['of']} labelled incident lines, "
          f"{score['lines']['falsePositiveRate']['of']} routine), labels `benchmarks/judgment/labels.csv`; rounds: {args.rounds}, "
          f"test-model runs: {args.model_runs}")
    print()
    print("| judge | line recall | at labelled severity | line precision | line false positives | template recall / false positives "
          "| model calls per 10k lines | wall time (median) |")
    print("|---|---|---|---|---|---|---|---|")
    templates = f"{percent(score['templates']['recall']['value'])} / {percent(score['templates']['falsePositiveRate']['value'])}"
    print(row("`ai-sysadmin eval --rules-only` (signatures, error rate)", figures(score, "lines"), templates, "0",
              f"{statistics.median(rules_times):.2f} s"))
    for report, seconds in model_runs[:1]:
        model_score = report["score"]
        model_templates = f"{percent(model_score['templates']['recall']['value'])} / {percent(model_score['templates']['falsePositiveRate']['value'])}"
        median_seconds = statistics.median(s for _, s in model_runs)
        print(row("`ai-sysadmin eval` with SmolLM2-135M as the trigger model", figures(model_score, "lines"), model_templates,
                  f"{report['modelCallsPer10kLines']:.1f}", f"{median_seconds:.0f} s"))
    print(row("the replaced system's pattern list, 60 s debounce (baseline)", previous, "—", "0", f"{statistics.median(previous_times):.2f} s"))
    print(row("the same list without debounce", undebounced, "—", "0", "—"))
    print()
    rules_recall, previous_recall = score["lines"]["recall"]["value"], previous["recall"]
    print(f"- recall of the rules alone against the replaced list: {rules_recall / previous_recall:.2f}× "
          f"({score['lines']['recall']['count']} vs {previous['found']} of {previous['incidents']} incident lines); "
          f"false alarms on routine lines: {score['lines']['falsePositiveRate']['count']} vs {previous['falseAlarms']} of {previous['normals']}")
    if model_runs:
        report = model_runs[0][0]
        print(f"- with the test model: {report['modelCalls']} model calls, {report['classificationFailures']} classification failures; "
              f"events by source: " + ", ".join(f"{k} {v}" for k, v in sorted(report["score"]["eventsBySource"].items(), key=lambda kv: -kv[1])[:6]))
    print(f"- error-rate events (bursts, outside the line figures): {score['burstEvents']} with the rules alone")
    print(f"- what the rules alone got wrong ({score['mistakeCount']}): "
          + "; ".join(f"line {m['line']} {m['kind']} ({m['label']}): `{m['message'][:90]}`" for m in score["mistakes"][:5]))
    print()
    print("Each pattern of the replaced list alone, without debounce, on the same lines:")
    print()
    print("| pattern | incident lines it flags | routine lines it flags | false-positive rate |")
    print("|---|---|---|---|")
    for pattern, severity in PREVIOUS:
        alone = previous_system(lines, labels, debounce=False, patterns=[(pattern, severity)])
        print(f"| `{pattern}` ({severity}) | {alone['found']} of {alone['incidents']} | {alone['falseAlarms']} of {alone['normals']} | "
              f"{percent(alone['falsePositiveRate'])} |")


if __name__ == "__main__":
    main()
