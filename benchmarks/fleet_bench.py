#!/usr/bin/env python3
"""The fleet's store: events per second hosts publish to PostgreSQL, next to the rate Layer 1 writes them to its
own SQLite file, in the same rounds.

usage: fleet_bench.py AI_SYSADMIN TEST_PYTHON [--events N] [--hosts H] [--rounds R] [--approvals K]

- The baseline (SQLite): N syslog lines that an operator rule marks as errors, replayed with
  `replay --rules-only --store`: Layer 1's path from a line to an event row in its file (syslog parsing, template
  mining, the rules, one event per line, committed in batches), in events per second.
- PostgreSQL: a private server (initdb into a temporary directory, TLS only with a certificate from a throwaway
  authority, scram-sha-256, PostgreSQL's default durability: fsync and synchronous_commit on), the schema and roles
  from `ai-sysadmin fleet schema|role`. Each host is `ai-sysadmin run` with store.backend postgresql over a copy of
  the baseline's store (N events nobody has published), under its own role, and nothing else to do (no models, no
  monitoring); measured from the daemons' start until the database holds every host's N events. Once with one host,
  once with H at the same time (their events per second summed).
Each round measures all three; the report gives medians, and the ratios to SQLite as the median of each round's.

- Approve to action: one host whose systemd is the tests' stand-in manager (Tests/Support/fake-systemd-manager.py on
  a private D-Bus), K restart proposals queued over MCP (fleet_propose.py); for each, `approvals approve HOST/ID` as
  an operator's role, and the time from the decision's commit (`decided_at`, the server's clock, which is this
  machine's) to the manager receiving RestartUnit: the notification, the host's validation and ledger, the
  executor. p50 and p99 (with K = 20, p99 is the slowest).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(argv):
    """`argv` as the postgres user when this runs as root (PostgreSQL refuses root)."""
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + argv if os.getuid() == 0 else argv


class PrivatePostgres:
    """A PostgreSQL server of the benchmark's own, as the tests start one (Tests/TestSupport/PrivatePostgres.swift)."""

    def __init__(self, workdir):
        versions = sorted((int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit()), reverse=True)
        binaries = f"/usr/lib/postgresql/{versions[0]}/bin"
        self.dir = workdir / "pg"
        self.dir.mkdir()
        self.port = free_port()
        self.password = "admin-password-0123456789"
        (self.dir / "admin-password").write_text(self.password)
        def openssl(*arguments):
            subprocess.run(["openssl", *arguments], check=True, capture_output=True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", "-x509", "-new", *ec, "-keyout", str(self.dir / "ca.key"), "-out", str(self.dir / "ca.pem"), "-days", "2",
                "-subj", "/CN=ai-sysadmin benchmark authority")
        openssl("req", "-new", *ec, "-keyout", str(self.dir / "server.key"), "-out", str(self.dir / "server.csr"), "-subj", "/CN=127.0.0.1")
        (self.dir / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", str(self.dir / "server.csr"), "-CA", str(self.dir / "ca.pem"), "-CAkey", str(self.dir / "ca.key"),
                "-CAcreateserial", "-out", str(self.dir / "server.pem"), "-days", "2", "-extfile", str(self.dir / "san.cnf"))
        os.chmod(self.dir / "server.key", 0o600)
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
            for name in ("admin-password", "server.key", "server.pem"):
                shutil.chown(self.dir / name, "postgres")
        subprocess.run(as_postgres([f"{binaries}/initdb", "-D", str(self.dir / "data"), "-U", "ais_admin", "-A", "scram-sha-256",
                                    f"--pwfile={self.dir / 'admin-password'}"]), check=True, capture_output=True)
        (self.dir / "data" / "pg_hba.conf").write_text("local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
        self.log = open(self.dir / "server.log", "w")
        self.server = subprocess.Popen(as_postgres([f"{binaries}/postgres", "-D", str(self.dir / "data"), "-p", str(self.port), "-k", str(self.dir),
                                                    "-c", "listen_addresses=127.0.0.1", "-c", "ssl=on",
                                                    "-c", f"ssl_cert_file={self.dir / 'server.pem'}", "-c", f"ssl_key_file={self.dir / 'server.key'}",
                                                    "-c", "max_connections=200"]),
                                       stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while self.psql("SELECT 1", database="postgres").returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {(self.dir / 'server.log').read_text()[-1500:]}")
            time.sleep(0.1)
        self.run("CREATE DATABASE fleet", database="postgres", transaction=False)

    def url(self, role):
        return f"postgresql://{role}@127.0.0.1:{self.port}/fleet?sslrootcert={self.dir / 'ca.pem'}"

    def psql(self, sql, role="ais_admin", password=None, database="fleet", transaction=True):
        environment = {"PGPASSWORD": password or self.password, "PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(self.dir / "ca.pem"),
                       "PATH": "/usr/bin:/bin"}
        return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + (["-1"] if transaction else [])
                              + ["-h", "127.0.0.1", "-p", str(self.port), "-U", role, "-d", database, "-f", "-"],
                              input=sql, capture_output=True, text=True, env=environment)

    def run(self, sql, **options):
        result = self.psql(sql, **options)
        if result.returncode != 0:
            raise RuntimeError(f"psql: {result.stderr}")
        return result.stdout.strip()

    def stop(self):
        # SIGINT, PostgreSQL's fast shutdown: SIGTERM would wait for every client, and a daemon left running holds one.
        self.server.send_signal(signal.SIGINT)
        self.server.wait()
        self.log.close()


def make_log(path, count):
    with open(path, "w") as f:
        for i in range(count):
            f.write(f"Nov 25 {10 + i % 12:02d}:{i % 60:02d}:{(i * 7) % 60:02d} web1 app[{100 + i % 900}]: "
                    f"ERROR request {i:08x} failed after {i % 997} ms on shard {i % 31}\n")


def host_configuration(binary, directory, url, password_file, **extra):
    config = {
        "stateDirectory": str(directory),
        "models": {layer: {"enable": False} for layer in ("trigger", "review", "meta")},
        "api": {"supervised": False},
        "monitoring": {"enable": False},
        "chat": {"enable": False},
        "store": {"backend": "postgresql",
                  "postgresql": {"url": url, "passwordFile": str(password_file), "publishIntervalSeconds": 0.2}},
        **extra,
    }
    path = directory / "config.json"
    path.write_text(json.dumps(config))
    subprocess.run([binary, "config", "check", str(path)], check=True, capture_output=True)
    return path


def publish(binary, postgres, store, workdir, hosts, events, round_number):
    """Seconds from starting `hosts` daemons, each over a copy of `store`, until the database holds all their events."""
    daemons, names = [], []
    for index in range(hosts):
        name = f"r{round_number}h{hosts}n{index}"
        postgres.run(subprocess.run([binary, "fleet", "role", "host", name], capture_output=True, text=True, check=True).stdout)
        postgres.run(f"ALTER ROLE ais_host_{name} PASSWORD '{name}-password'")
        directory = workdir / name
        directory.mkdir()
        shutil.copy(store, directory / "ai-sysadmin.sqlite")
        (directory / "password").write_text(f"{name}-password")
        names.append((name, host_configuration(binary, directory, postgres.url(f"ais_host_{name}"), directory / "password")))
    query = "SELECT count(*) FROM event WHERE host IN (" + ", ".join(f"'{name}'" for name, _ in names) + ")"
    start = time.monotonic()
    for name, config in names:
        daemons.append(subprocess.Popen([binary, "run", "--config", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=open(workdir / f"{name}.log", "w")))
    try:
        deadline = start + 600
        while int(postgres.run(query)) < events * hosts:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the hosts did not publish in time; see {workdir}")
            # Each look is a psql process and a TLS handshake: often enough to time runs of many seconds, rarely
            # enough not to slow the hosts much.
            time.sleep(0.2)
        return time.monotonic() - start
    finally:
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            daemon.wait()


def approval_latency(binary, test_python, postgres, workdir, samples):
    """Seconds from each decision's commit to the owning host's systemd receiving the restart."""
    import threading
    repository = Path(__file__).resolve().parent.parent
    directory = workdir / "approver"
    directory.mkdir()
    bus_path = directory / "bus"
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address=unix:path={bus_path}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manager = daemon = None
    try:
        deadline = time.monotonic() + 10
        while not bus_path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("dbus-daemon did not start")
            time.sleep(0.05)
        address = f"unix:path={bus_path}"
        manager = subprocess.Popen([test_python, str(repository / "Tests/Support/fake-systemd-manager.py"), "--bus", address]
                                   + [argument for index in range(samples) for argument in ("--simulate", f"app{index}.service=failed")],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        calls, ready = {}, threading.Event()
        def read():
            for line in manager.stdout:
                if line.startswith("ready"):
                    ready.set()
                elif line.startswith("CALL RestartUnit "):
                    calls[line.split()[2]] = time.time()
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(20):
            raise RuntimeError("the stand-in systemd manager did not start")
        postgres.run(subprocess.run([binary, "fleet", "role", "host", "approver"], capture_output=True, text=True, check=True).stdout)
        postgres.run("ALTER ROLE ais_host_approver PASSWORD 'approver-password'")
        postgres.run(subprocess.run([binary, "fleet", "role", "operator", "ops"], capture_output=True, text=True, check=True).stdout)
        postgres.run("ALTER ROLE ops PASSWORD 'ops-password'")
        (directory / "password").write_text("approver-password")
        (workdir / "ops.pw").write_text("ops-password")
        config = host_configuration(binary, directory, postgres.url("ais_host_approver"), directory / "password",
                                    autonomy={"systemdBusAddress": address, "actionsPerHour": 10_000}, mcp={"enable": True})
        daemon = subprocess.Popen([binary, "run", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=open(workdir / "approver.log", "w"))
        deadline = time.monotonic() + 30
        while not (directory / "agent.sock").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the approver's daemon did not start; see {workdir / 'approver.log'}")
            time.sleep(0.05)
        subprocess.run([test_python, str(repository / "benchmarks/fleet_propose.py"), binary, str(config), str(samples)], check=True)
        deadline = time.monotonic() + 60
        while int(postgres.run("SELECT count(*) FROM proposal WHERE host = 'approver' AND state = 'queued'")) < samples:
            if time.monotonic() > deadline:
                raise RuntimeError("the proposals did not reach the fleet")
            time.sleep(0.05)
        operator = ["--url", postgres.url("ops"), "--password-file", str(workdir / "ops.pw")]
        delays = []
        rows = postgres.run("SELECT local_id || ' ' || unit FROM proposal WHERE host = 'approver' ORDER BY local_id").splitlines()
        for local_id, unit in (row.split() for row in rows):
            subprocess.run([binary, "approvals", "approve", f"approver/{local_id}", "--wait", "0"] + operator, check=True, capture_output=True)
            decided = float(postgres.run(f"SELECT extract(epoch FROM decided_at) FROM decision WHERE host = 'approver' AND proposal_local_id = {local_id}"))
            deadline = time.monotonic() + 30
            while unit not in calls:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{unit} was never restarted; see {workdir / 'approver.log'}")
                time.sleep(0.005)
            delays.append(calls[unit] - decided)
        return delays
    finally:
        for process in (daemon, manager, bus):
            if process:
                process.terminate()
                process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("test_python")
    parser.add_argument("--approvals", type=int, default=20)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ais-fleetbench-"))
    os.chmod(workdir, 0o755)  # the server runs as postgres and lives below it
    log = workdir / "syslog.log"
    make_log(log, args.events)
    rules = workdir / "rules.json"
    rules.write_text(json.dumps({"stateDirectory": str(workdir / "replay-state"),
                                 "models": {layer: {"enable": False} for layer in ("trigger", "review", "meta")},
                                 "monitoring": {"rules": [{"pattern": "ERROR", "severity": "error", "category": "service",
                                                           "escalate": False, "summary": "the app logged an error"}]}}))
    postgres = PrivatePostgres(workdir)
    try:
        postgres.run(subprocess.run([args.binary, "fleet", "schema"], capture_output=True, text=True, check=True).stdout)
        rounds = []
        for number in range(args.rounds):
            store = workdir / f"replay-{number}.sqlite"
            start = time.monotonic()
            result = subprocess.run([args.binary, "replay", str(log), "--rules-only", "--config", str(rules), "--store", str(store), "--json"],
                                    capture_output=True, text=True)
            sqlite_seconds = time.monotonic() - start
            if result.returncode != 0:
                raise RuntimeError(f"replay failed: {result.stderr[-1500:]}")
            stored = json.loads(result.stdout)["statistics"]["events"]
            if stored != args.events:
                raise RuntimeError(f"the replay stored {stored} events, not {args.events}")
            one = publish(args.binary, postgres, store, workdir, 1, args.events, number)
            many = publish(args.binary, postgres, store, workdir, args.hosts, args.events, number)
            rounds.append({"sqlite": args.events / sqlite_seconds, "one": args.events / one, "many": args.events * args.hosts / many})
            print(f"<!-- round {number + 1}: {json.dumps(rounds[-1])} -->", flush=True)
        delays = sorted(approval_latency(args.binary, args.test_python, postgres, workdir, args.approvals))
    finally:
        postgres.stop()
    median = lambda key: statistics.median(r[key] for r in rounds)
    ratio = lambda key: statistics.median(r[key] / r["sqlite"] for r in rounds)
    print(f"- {args.events:,} events per host, {args.rounds} rounds; PostgreSQL {postgres_version()} on the same machine, TLS, fsync on")
    print()
    print("| writer | events/s (median) | ratio to SQLite (median of rounds) |")
    print("|---|---|---|")
    print(f"| Layer 1 into its SQLite file (`replay --rules-only --store`): the baseline | {median('sqlite'):,.0f} | 1.00× |")
    print(f"| one host publishing to PostgreSQL | {median('one'):,.0f} | {ratio('one'):.2f}× |")
    print(f"| {args.hosts} hosts publishing at once (sum) | {median('many'):,.0f} | {ratio('many'):.2f}× |")
    p99 = delays[min(len(delays) - 1, int(round(0.99 * (len(delays) - 1))))]
    print()
    print(f"Approve → action started on the owning host, {len(delays)} approvals one after another: "
          f"p50 {statistics.median(delays) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (min {delays[0] * 1000:.0f}, max {delays[-1] * 1000:.0f}).")
    shutil.rmtree(workdir, ignore_errors=True)


def postgres_version():
    return subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.split()[2]


if __name__ == "__main__":
    main()
