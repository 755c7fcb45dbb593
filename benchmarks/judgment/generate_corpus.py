#!/usr/bin/env python3
"""Writes the labelled judgment corpus: twelve hours of a Debian web/database server's syslog (rsyslog's
high-precision format) with incidents embedded, and the labels `ai-sysadmin eval` compares Layer 1 with.

usage: generate_corpus.py [--seed N] [--hours H] [--out DIR]
Writes DIR/corpus.log and DIR/labels.csv (default: this script's folder). Deterministic for a given seed.

Every line is written here, from what these services print on Debian 12; nothing is copied from public data
sets. Routine lines include the ones that look alarming and are not: a missing favicon logged as [error], a
retry after "Connection refused", a mail deferred on a timeout, scanners closing ssh connections, smartd
reporting temperature changes, systemd-resolved's "degraded feature set", a duplicate key in postgres. They are
labelled normal (most are left unlabelled, which means normal); the ones worth a note carry one.

Labels: one per incident line, `line,label,note`; label is the minimum severity the line deserves (warning,
error, critical). A multi-line kernel report labels its headline lines; its context lines (call traces,
register dumps, "CDB:" lines) are normal, since an event per context line helps nobody. To extend the corpus,
add a routine source to ROUTINE or an incident function to INCIDENTS.
"""
import argparse
import datetime
import os
import random

HOST = "web1"
START = datetime.datetime(2026, 11, 29, 18, 0, 0, tzinfo=datetime.timezone.utc)


class Corpus:
    def __init__(self, rng):
        self.rng = rng
        self.entries = []  # (seconds since START, order, ident, message, label, note)
        self.order = 0

    def add(self, at, ident, message, label=None, note=""):
        self.order += 1
        self.entries.append((at, self.order, ident, message, label, note))

    def lines(self):
        for at, _, ident, message, label, note in sorted(self.entries):
            stamp = (START + datetime.timedelta(seconds=at)).isoformat(timespec="microseconds")
            yield f"{stamp} {HOST} {ident}: {message}", label, note


# Routine sources: each adds the lines of one occurrence at `at`.

def ssh_login(c, at):
    r = c.rng
    user, pid, session = r.choice(["deploy", "alice", "bob"]), r.randint(2000, 60000), r.randint(100, 999)
    src = f"10.0.4.{r.randint(2, 250)}"
    key = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(43))
    c.add(at, f"sshd[{pid}]", f"Accepted publickey for {user} from {src} port {r.randint(30000, 65000)} ssh2: ED25519 SHA256:{key}")
    c.add(at, f"sshd[{pid}]", f"pam_unix(sshd:session): session opened for user {user}(uid={1000 + len(user)}) by (uid=0)")
    c.add(at + 0.01, "systemd-logind[412]", f"New session {session} of user {user}.")
    c.add(at + 0.02, "systemd[1]", f"Started session-{session}.scope - Session {session} of User {user}.")
    end = at + r.randint(30, 1800)
    c.add(end, f"sshd[{pid}]", f"Received disconnect from {src} port {r.randint(30000, 65000)}:11: disconnected by user")
    c.add(end, f"sshd[{pid}]", f"pam_unix(sshd:session): session closed for user {user}")
    c.add(end + 0.01, "systemd-logind[412]", f"Session {session} logged out. Waiting for processes to exit.")
    c.add(end + 0.02, "systemd[1]", f"session-{session}.scope: Deactivated successfully.")
    c.add(end + 0.03, "systemd-logind[412]", f"Removed session {session}.")


def ssh_scanner(c, at):
    r = c.rng
    pid, src, port = r.randint(2000, 60000), f"198.51.100.{r.randint(2, 250)}", r.randint(30000, 65000)
    c.add(at, f"sshd[{pid}]", r.choice([
        f"Connection closed by {src} port {port} [preauth]",
        "error: kex_exchange_identification: Connection closed by remote host",
        "error: kex_exchange_identification: read: Connection reset by peer",
        f"Received disconnect from {src} port {port}:11: Bye Bye [preauth]",
        f"banner exchange: Connection from {src} port {port}: invalid format",
        f"Connection reset by {src} port {port} [preauth]",
        f"Unable to negotiate with {src} port {port}: no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]",
    ]))


def cron(c, at):
    r = c.rng
    pid = r.randint(2000, 60000)
    c.add(at, f"CRON[{pid}]", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
    c.add(at, f"CRON[{pid + 1}]", r.choice(["(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
                                             "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
                                             "(www-data) CMD (php /var/www/app/artisan schedule:run >> /dev/null 2>&1)"]))
    c.add(at + r.uniform(0.1, 3), f"CRON[{pid}]", "pam_unix(cron:session): session closed for user root")


TIMERS = [("apt-daily.service", "Daily apt download activities"), ("apt-daily-upgrade.service", "Daily apt upgrade and clean activities"),
          ("logrotate.service", "Rotate log files"), ("man-db.service", "Daily man-db regeneration"),
          ("systemd-tmpfiles-clean.service", "Cleanup of Temporary Directories"), ("phpsessionclean.service", "Clean php session files"),
          ("fstrim.service", "Discard unused blocks on filesystems from /etc/fstab"), ("e2scrub_all.service", "Online ext4 Metadata Check for All Filesystems")]


def timer(c, at):
    r = c.rng
    unit, description = r.choice(TIMERS)
    c.add(at, "systemd[1]", f"Starting {unit} - {description}...")
    if unit == "fstrim.service":
        c.add(at + 0.5, f"fstrim[{r.randint(2000, 60000)}]", f"/: {r.randint(1, 40)}.{r.randint(0, 9)} GiB ({r.randint(10**9, 4 * 10**10)} bytes) trimmed on /dev/sda1")
    if unit == "logrotate.service":
        c.add(at + 0.3, "rsyslogd[603]", '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="603" x-info="https://www.rsyslog.com"] rsyslogd was HUPed')
    c.add(at + 1, "systemd[1]", f"{unit}: Deactivated successfully.")
    c.add(at + 1, "systemd[1]", f"Finished {unit} - {description}.")
    if r.random() < 0.5:
        c.add(at + 1, "systemd[1]", f"{unit}: Consumed {r.randint(1, 40)}.{r.randint(100, 999)}s CPU time.")


def webapp(c, at):
    r = c.rng
    ip = f"10.0.{r.randint(0, 3)}.{r.randint(2, 250)}"
    path = r.choice(["/api/v1/items/{}", "/api/v1/orders/{}", "/api/v1/users/{}/cart", "/static/app.{}.js", "/healthz"]).format(r.randint(1, 99999))
    status = r.choices([200, 201, 204, 304, 404], [70, 5, 5, 15, 5])[0]
    c.add(at, "gunicorn[2201]", f'{ip} - - "GET {path} HTTP/1.1" {status} {r.randint(0, 90000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"')


def webapp_worries(c, at):
    """Lines that look bad and are routine: the issue's too-noisy patterns, measured on these."""
    r = c.rng
    c.add(at, "gunicorn[2201]", r.choice([
        f"WARNING app.search: upstream http://10.0.0.7:9200 Connection refused, retrying in {r.randint(1, 5)}s (attempt 1/5)",
        f"WARNING app.db: slow query took {r.randint(1000, 4000)}ms: SELECT id, total FROM orders WHERE customer_id = $1",
        f"INFO app.cache: redis timeout set to {r.choice([5, 10, 30])}s",
        f"WARNING app.http: request to https://api.payments.example/v2/charges timed out after 10s, retrying",
        f"INFO app.jobs: job {r.randint(1000, 9999)} FAILED validation (missing field 'email'), skipped",
    ]))


def nginx_noise(c, at):
    r = c.rng
    c.add(at, f"nginx[{r.choice([1201, 1202])}]", r.choice([
        f'2026/11/30 0{r.randint(0, 9)}:{r.randint(10, 59)}:{r.randint(10, 59)} [error] 1202#1202: *{r.randint(100, 99999)} open() "/var/www/html/favicon.ico" failed (2: No such file or directory), client: 198.51.100.{r.randint(2, 250)}, server: _, request: "GET /favicon.ico HTTP/1.1"',
        f'2026/11/30 0{r.randint(0, 9)}:{r.randint(10, 59)}:{r.randint(10, 59)} [error] 1202#1202: *{r.randint(100, 99999)} open() "/var/www/html/wp-login.php" failed (2: No such file or directory), client: 198.51.100.{r.randint(2, 250)}, server: _, request: "GET /wp-login.php HTTP/1.1"',
        f'2026/11/30 0{r.randint(0, 9)}:{r.randint(10, 59)}:{r.randint(10, 59)} [info] 1202#1202: *{r.randint(100, 99999)} client closed connection while waiting for request, client: 10.0.0.{r.randint(2, 250)}, server: 0.0.0.0:443',
    ]))


def postgres(c, at):
    r = c.rng
    c.add(at, "postgres[901]", r.choice([
        "LOG:  checkpoint starting: time",
        f"LOG:  checkpoint complete: wrote {r.randint(10, 900)} buffers ({r.randint(0, 9)}.{r.randint(0, 9)}%); 0 WAL file(s) added, 0 removed, {r.randint(0, 3)} recycled; write={r.randint(1, 90)}.{r.randint(100, 999)} s, sync=0.0{r.randint(10, 99)} s, total={r.randint(1, 90)}.{r.randint(100, 999)} s",
        f'LOG:  automatic vacuum of table "app.public.{r.choice(["orders", "items", "sessions"])}": index scans: {r.randint(0, 2)}',
        f'ERROR:  duplicate key value violates unique constraint "users_email_key"',
        f"LOG:  connection received: host=10.0.0.{r.randint(2, 250)} port={r.randint(30000, 65000)}",
    ]))


def kernel_routine(c, at):
    r = c.rng
    c.add(at, "kernel", f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.{r.randint(2, 250)} DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL={r.randint(30, 250)} ID={r.randint(1, 65000)} PROTO=TCP SPT={r.randint(1024, 65000)} DPT={r.choice([23, 3389, 5900, 8080, 445])} WINDOW=1024 RES=0x00 SYN URGP=0")


def system_chatter(c, at):
    r = c.rng
    choice = r.randrange(9)
    if choice == 0:
        c.add(at, "systemd-resolved[388]", "Using degraded feature set UDP instead of UDP+EDNS0 for DNS server 10.0.0.1.")
        c.add(at + r.randint(60, 600), "systemd-resolved[388]", "Grace period over, resuming full feature set (UDP+EDNS0) for DNS server 10.0.0.1.")
    elif choice == 1:
        c.add(at, "chronyd[530]", r.choice([f"Selected source 192.0.2.{r.randint(2, 250)} (2.debian.pool.ntp.org)",
                                            f"Source 192.0.2.{r.randint(2, 250)} replaced with 192.0.2.{r.randint(2, 250)} (2.debian.pool.ntp.org)"]))
    elif choice == 2:
        attribute = r.choice([("194", "Temperature_Celsius"), ("190", "Airflow_Temperature_Cel")])
        old = r.randint(30, 45)
        c.add(at, "smartd[505]", f"Device: /dev/sda [SAT], SMART Usage Attribute: {attribute[0]} {attribute[1]} changed from {old} to {old + r.choice([-1, 1])}")
    elif choice == 3:
        c.add(at, f"dhclient[{r.choice([610, 611])}]", "DHCPREQUEST for 10.0.0.10 on eth0 to 10.0.0.1 port 67")
        c.add(at + 0.01, "dhclient[610]", "DHCPACK of 10.0.0.10 from 10.0.0.1")
        c.add(at + 0.02, "dhclient[610]", f"bound to 10.0.0.10 -- renewal in {r.randint(1200, 1800)} seconds.")
    elif choice == 4:
        queue = "".join(r.choice("0123456789ABCDEF") for _ in range(10))
        c.add(at, "postfix/pickup[1190]", f"{queue}: uid=0 from=<root>")
        c.add(at + 0.1, "postfix/qmgr[1188]", f"{queue}: from=<root@web1.example.org>, size={r.randint(400, 4000)}, nrcpt=1 (queue active)")
        if r.random() < 0.2:
            c.add(at + 30.1, f"postfix/smtp[{r.randint(2000, 60000)}]", f"{queue}: to=<ops@example.org>, relay=none, delay=30, delays=0.1/0/30/0, dsn=4.4.1, status=deferred (connect to mail.example.org[192.0.2.25]:25: Connection timed out)")
        else:
            c.add(at + 0.6, f"postfix/smtp[{r.randint(2000, 60000)}]", f"{queue}: to=<ops@example.org>, relay=mail.example.org[192.0.2.25]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {queue[::-1]})")
        c.add(at + 0.7, "postfix/qmgr[1188]", f"{queue}: removed")
    elif choice == 5:
        user = r.choice(["alice", "bob"])
        command = r.choice(["/usr/bin/systemctl status nginx", "/usr/bin/journalctl -u gunicorn -n 50", "/usr/bin/apt update"])
        c.add(at, f"sudo[{r.randint(2000, 60000)}]", f"   {user} : TTY=pts/{r.randint(0, 3)} ; PWD=/home/{user} ; USER=root ; COMMAND={command}")
        c.add(at, "sudo[{}]".format(r.randint(2000, 60000)), f"pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid=1000)")
    elif choice == 6:
        container = "".join(r.choice("0123456789abcdef") for _ in range(64))
        stamp = (START + datetime.timedelta(seconds=at)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        c.add(at, "containerd[790]", f'time="{stamp}" level=info msg="shim disconnected" id={container} namespace=moby')
        c.add(at, "dockerd[850]", f'time="{stamp}" level=info msg="ignoring event" container={container} module=libcontainerd namespace=moby topic=/tasks/delete type="*events.TaskDelete"')
    elif choice == 7:
        c.add(at, "systemd-journald[302]", f"Data hash table of /var/log/journal/4c2e0b1d/system.journal has a fill level at 75.0 ({r.randint(8000, 9000)} of 11377 items, 6553600 file size, 767 bytes per hash table item), suggesting rotation.")
        c.add(at, "systemd-journald[302]", "/var/log/journal/4c2e0b1d/system.journal: Journal header limits reached or header out-of-date, rotating.")
    else:
        c.add(at, "systemd[1]", r.choice(["Reloading.", "Starting certbot.service - Certbot...", "certbot.service: Deactivated successfully.",
                                          "Finished certbot.service - Certbot.", "Condition check resulted in Set Up Additional Binary Formats being skipped."]))


# Routine sources and how many occurrences per hour.
ROUTINE = [(ssh_login, 4), (ssh_scanner, 30), (cron, 12), (timer, 2), (webapp, 140), (webapp_worries, 8), (nginx_noise, 10),
           (postgres, 20), (kernel_routine, 25), (system_chatter, 14)]


# Incidents: each adds its lines at `at`, labelled.

def oom_kill(c, at):
    c.add(at, "kernel", "gunicorn invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0", "critical", "OOM killer")
    c.add(at, "kernel", "CPU: 1 PID: 2203 Comm: gunicorn Not tainted 6.1.0-27-amd64 #1  Debian 6.1.115-1")
    c.add(at, "kernel", "Mem-Info:")
    c.add(at, "kernel", "active_anon:3893021 inactive_anon:112334 isolated_anon:0")
    c.add(at, "kernel", "Tasks state (memory values in pages):")
    c.add(at, "kernel", "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/gunicorn.service,task=gunicorn,pid=2203,uid=33", "critical", "OOM killer")
    c.add(at, "kernel", "Out of memory: Killed process 2203 (gunicorn) total-vm:16934412kB, anon-rss:15573284kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:30712kB oom_score_adj:0", "critical", "OOM killer")
    c.add(at + 0.2, "systemd[1]", "gunicorn.service: A process of this unit has been killed by the OOM killer.", "error", "OOM kill of a service")
    c.add(at + 0.3, "systemd[1]", "gunicorn.service: Main process exited, code=killed, status=9/KILL", "error", "service died")
    c.add(at + 0.3, "systemd[1]", "gunicorn.service: Failed with result 'oom-kill'.", "error", "service failed")
    c.add(at + 0.3, "systemd[1]", "gunicorn.service: Consumed 2h 13min 4.512s CPU time.")


def crash_loop(c, at):
    for attempt in range(1, 7):
        t = at + attempt * 10
        pid = 3100 + attempt
        c.add(t, f"report-worker[{pid}]", "panic: runtime error: invalid memory address or nil pointer dereference", "error", "program crash")
        c.add(t, f"report-worker[{pid}]", "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6b2f4e]")
        c.add(t, f"report-worker[{pid}]", "goroutine 1 [running]:")
        c.add(t, f"report-worker[{pid}]", "main.(*Exporter).flush(0x0)")
        c.add(t + 0.01, "systemd[1]", "report-worker.service: Main process exited, code=exited, status=2/INVALIDARGUMENT", "error", "service died")
        c.add(t + 0.01, "systemd[1]", "report-worker.service: Failed with result 'exit-code'.", "error", "service failed")
        if attempt < 6:
            c.add(t + 5, "systemd[1]", f"report-worker.service: Scheduled restart job, restart counter is at {attempt}.",
                  "error" if attempt >= 5 else None, "restart loop" if attempt >= 5 else "")
            c.add(t + 5, "systemd[1]", "Stopped report-worker.service - Report export worker.")
            c.add(t + 5, "systemd[1]", "Started report-worker.service - Report export worker.")
    c.add(at + 70, "systemd[1]", "report-worker.service: Start request repeated too quickly.", "error", "systemd gave up")
    c.add(at + 70, "systemd[1]", "report-worker.service: Failed with result 'exit-code'.", "error", "service failed")
    c.add(at + 70, "systemd[1]", "Failed to start report-worker.service - Report export worker.", "error", "service failed")


def disk_full(c, at):
    c.add(at, "postgres[901]", 'ERROR:  could not extend file "base/16384/24576.1": No space left on device', "error", "disk full")
    c.add(at, "postgres[901]", "HINT:  Check free disk space.")
    c.add(at + 2, "postgres[901]", 'PANIC:  could not write to file "pg_wal/xlogtemp.901": No space left on device', "error", "disk full")
    c.add(at + 2, "gunicorn[2201]", "ERROR app.db: OperationalError: could not write to file: No space left on device", "error", "disk full")
    c.add(at + 3, "systemd-journald[302]", "Failed to open system journal: No space left on device", "error", "disk full")
    c.add(at + 4, "nginx[1202]", '2026/11/30 03:00:04 [crit] 1202#1202: *88231 pwrite() "/var/lib/nginx/body/0000000231" failed (28: No space left on device), client: 10.0.0.5, server: _', "error", "disk full")
    c.add(at + 60, "rsyslogd[603]", "file '/var/log/syslog': write error - see https://www.rsyslog.com/solving-rsyslog-write-errors/ for help OS error: No space left on device [v8.2302.0 try https://www.rsyslog.com/e/2027 ]", "error", "disk full")


def io_errors(c, at):
    sector = 209715200
    c.add(at, "kernel", "ata3.00: exception Emask 0x0 SAct 0x80000 SErr 0x0 action 0x0", "error", "disk controller error")
    c.add(at, "kernel", "ata3.00: irq_stat 0x40000008")
    c.add(at, "kernel", "ata3.00: failed command: READ FPDMA QUEUED", "error", "disk command failed")
    c.add(at, "kernel", "ata3.00: cmd 60/08:98:00:00:80/00:00:0c:00:00/40 tag 19 ncq dma 4096 in")
    c.add(at, "kernel", "ata3.00: status: { DRDY ERR }", "error", "disk error")
    c.add(at, "kernel", "ata3.00: error: { UNC }", "error", "unreadable sector")
    c.add(at, "kernel", "ata3.00: configured for UDMA/133")
    c.add(at, "kernel", "sd 2:0:0:0: [sdb] tag#19 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=3s", "error", "disk command failed")
    c.add(at, "kernel", "sd 2:0:0:0: [sdb] tag#19 Sense Key : Medium Error [current]", "error", "medium error")
    c.add(at, "kernel", "sd 2:0:0:0: [sdb] tag#19 Add. Sense: Unrecovered read error - auto reallocate failed", "error", "unreadable sector")
    c.add(at, "kernel", "sd 2:0:0:0: [sdb] tag#19 CDB: Read(10) 28 00 0c 80 00 00 00 00 08 00")
    c.add(at, "kernel", f"I/O error, dev sdb, sector {sector} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 2", "error", "I/O error")
    c.add(at, "kernel", "ata3: EH complete")
    for n in range(3):
        c.add(at + 1 + n, "kernel", f"Buffer I/O error on dev sdb1, logical block {26214144 + n}, async page read", "error", "I/O error")
    c.add(at + 5, "kernel", "EXT4-fs error (device sdb1): ext4_find_entry:1658: inode #2: comm rsync: reading directory lblock 0", "critical", "file system error")
    c.add(at + 5, "kernel", "EXT4-fs (sdb1): I/O error while writing superblock", "critical", "file system error")
    c.add(at + 5, "kernel", "EXT4-fs (sdb1): Remounting filesystem read-only", "critical", "file system read-only")
    c.add(at + 6, "rsync[7710]", 'rsync: [receiver] mkstemp "/srv/backup/.db.dump.XXXXXX" failed: Read-only file system (30)', "error", "write to read-only fs")
    c.add(at + 7, "systemd[1]", "backup.service: Main process exited, code=exited, status=23/n/a", "error", "service died")
    c.add(at + 7, "systemd[1]", "backup.service: Failed with result 'exit-code'.", "error", "service failed")
    c.add(at + 7, "systemd[1]", "Failed to start backup.service - Nightly backup to /srv/backup.", "error", "service failed")


def brute_force(c, at):
    r = c.rng
    source = "203.0.113.45"
    for n in range(14):
        t, pid, port = at + n * 7, 40000 + n, 51000 + n * 3
        user = r.choice(["admin", "oracle", "test", "ubuntu", "git", "postgres"])
        c.add(t, f"sshd[{pid}]", f"Invalid user {user} from {source} port {port}", "warning", "login attempt for a user that does not exist")
        c.add(t + 1, f"sshd[{pid}]", f"pam_unix(sshd:auth): check pass; user unknown")
        c.add(t + 1, f"sshd[{pid}]", f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={source}", "warning", "failed login")
        c.add(t + 3, f"sshd[{pid}]", f"Failed password for invalid user {user} from {source} port {port} ssh2", "warning", "failed login")
        c.add(t + 4, f"sshd[{pid}]", f"Connection closed by invalid user {user} {source} port {port} [preauth]")
    for n in range(3):
        t, pid, port = at + 100 + n * 9, 40100 + n, 52000 + n
        c.add(t, f"sshd[{pid}]", f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={source}  user=root", "warning", "failed login")
        for attempt in range(3):
            c.add(t + 1 + attempt, f"sshd[{pid}]", f"Failed password for root from {source} port {port} ssh2", "warning", "failed login")
        c.add(t + 5, f"sshd[{pid}]", f"error: maximum authentication attempts exceeded for root from {source} port {port} ssh2 [preauth]", "error", "brute force")
        c.add(t + 5, f"sshd[{pid}]", f"Disconnecting authenticating user root {source} port {port}: Too many authentication failures [preauth]", "error", "brute force")
        c.add(t + 5, f"sshd[{pid}]", f"PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={source}  user=root", "warning", "failed logins")


def kernel_oops(c, at):
    c.add(at, "kernel", "BUG: kernel NULL pointer dereference, address: 0000000000000008", "critical", "kernel bug")
    c.add(at, "kernel", "#PF: supervisor read access in kernel mode")
    c.add(at, "kernel", "#PF: error_code(0x0000) - not-present page")
    c.add(at, "kernel", "Oops: 0000 [#1] PREEMPT SMP NOPTI", "critical", "kernel oops")
    c.add(at, "kernel", "CPU: 0 PID: 5512 Comm: kworker/0:2 Tainted: G           OE      6.1.0-27-amd64 #1  Debian 6.1.115-1")
    c.add(at, "kernel", "RIP: 0010:dm_crypt_work+0x2f/0x90 [dm_crypt]")
    c.add(at, "kernel", "Call Trace:")
    c.add(at, "kernel", " <TASK>")
    c.add(at, "kernel", " process_one_work+0x1c7/0x380")
    c.add(at, "kernel", "---[ end trace 0000000000000000 ]---")


def segfault(c, at):
    c.add(at, "kernel", "thumbnailer[4321]: segfault at 0 ip 000055d5c1a2b3c4 sp 00007ffd1234abc0 error 4 in thumbnailer[55d5c1a00000+2b000] likely on CPU 1 (core 1, socket 0)", "error", "segfault")
    c.add(at, "kernel", "Code: 48 8b 07 48 85 c0 74 0b 48 8b 40 08 c3 0f 1f 44 00 00 31 c0 c3")
    c.add(at + 0.2, "systemd[1]", "Started systemd-coredump@0-4400-0.service - Process Core Dump (PID 4400/UID 0).")
    c.add(at + 1, "systemd-coredump[4401]", "Process 4321 (thumbnailer) of user 998 dumped core.", "error", "core dump")
    c.add(at + 1, "systemd[1]", "thumbnailer.service: Main process exited, code=dumped, status=11/SEGV", "error", "service crashed")
    c.add(at + 1, "systemd[1]", "thumbnailer.service: Failed with result 'core-dump'.", "error", "service failed")
    c.add(at + 1, "systemd[1]", "systemd-coredump@0-4400-0.service: Deactivated successfully.")
    c.add(at + 30, "postgres[901]", "LOG:  server process (PID 9123) was terminated by signal 11: Segmentation fault", "error", "segfault")
    c.add(at + 30, "postgres[901]", "LOG:  terminating any other active server processes")


def raid_degraded(c, at):
    c.add(at, "kernel", "md/raid1:md0: Disk failure on sdc1, disabling device.", "critical", "RAID lost a disk")
    c.add(at, "kernel", "md/raid1:md0: Operation continuing on 1 devices.", "critical", "RAID degraded")
    c.add(at + 20, "mdadm[812]", "Fail event detected on md device /dev/md0, component device /dev/sdc1", "critical", "RAID lost a disk")
    c.add(at + 20, "mdadm[812]", "DegradedArray event detected on md device /dev/md0", "critical", "RAID degraded")


def smart_failure(c, at):
    c.add(at, "smartd[505]", "Device: /dev/sdb [SAT], 8 Currently unreadable (pending) sectors", "error", "failing disk")
    c.add(at, "smartd[505]", "Device: /dev/sdb [SAT], 8 Offline uncorrectable sectors", "error", "failing disk")
    c.add(at, "smartd[505]", "Device: /dev/sdb [SAT], SMART Prefailure Attribute: 5 Reallocated_Sector_Ct changed from 100 to 97", "error", "failing disk")
    c.add(at + 1800, "smartd[505]", "Device: /dev/sdb [SAT], SMART Prefailure Attribute: 5 Reallocated_Sector_Ct changed from 97 to 95", "error", "failing disk")


def hardware_errors(c, at):
    c.add(at, "kernel", "mce: [Hardware Error]: Machine check events logged", "error", "machine check")
    c.add(at, "kernel", "EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x3a2f1 offset:0x0 grain:32 syndrome:0x0 - area:DRAM err_code:0001:0091 socket:0 ha:0 channel_mask:2 rank:0)", "warning", "corrected memory error")
    c.add(at + 600, "kernel", "EDAC MC0: 1 UE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x3a2f1 offset:0x0 grain:32 syndrome:0x0 - area:DRAM err_code:0001:0091 socket:0 ha:0 channel_mask:2 rank:0)", "error", "uncorrected memory error")


def time_trouble(c, at):
    c.add(at, "chronyd[530]", "Can't synchronise: no selectable sources", "warning", "no time source")
    c.add(at + 900, "chronyd[530]", "System clock wrong by 127.351240 seconds", "warning", "clock jump")
    c.add(at + 900, "chronyd[530]", "System clock was stepped by 127.351240 seconds", "warning", "clock jump")
    c.add(at + 900, "systemd[1]", "Time has been changed", "warning", "clock jump")


def hung_task(c, at):
    c.add(at, "kernel", "INFO: task jbd2/sda1-8:312 blocked for more than 120 seconds.", "error", "hung task")
    c.add(at, "kernel", "      Not tainted 6.1.0-27-amd64 #1 Debian 6.1.115-1")
    c.add(at, "kernel", '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.')
    c.add(at, "kernel", "task:jbd2/sda1-8     state:D stack:0     pid:312   ppid:2      flags:0x00004000")
    c.add(at + 120, "kernel", "INFO: task postgres:9021 blocked for more than 241 seconds.", "error", "hung task")


def cgroup_oom(c, at):
    c.add(at, "kernel", "node invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0", "critical", "OOM killer")
    c.add(at, "kernel", "memory: usage 524288kB, limit 524288kB, failcnt 1189")
    c.add(at, "kernel", "Memory cgroup out of memory: Killed process 6120 (node) total-vm:1451236kB, anon-rss:517120kB, file-rss:33280kB, shmem-rss:0kB, UID:1001 pgtables:2164kB oom_score_adj:0", "error", "cgroup OOM")
    c.add(at + 0.1, "systemd[1]", "frontend.service: A process of this unit has been killed by the OOM killer.", "error", "cgroup OOM")
    c.add(at + 0.2, "systemd[1]", "frontend.service: Main process exited, code=killed, status=9/KILL", "error", "service died")
    c.add(at + 0.2, "systemd[1]", "frontend.service: Failed with result 'oom-kill'.", "error", "service failed")
    c.add(at + 0.2, "systemd[1]", "frontend.service: Scheduled restart job, restart counter is at 1.")


def network_and_heat(c, at):
    c.add(at, "kernel", "e1000e 0000:00:19.0 eth0: NIC Link is Down", "warning", "link down")
    c.add(at + 4, "kernel", "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx")
    c.add(at + 300, "kernel", "CPU2: Core temperature above threshold, cpu clock throttled (total events = 1)", "warning", "overheating")
    c.add(at + 300, "kernel", "CPU0: Package temperature above threshold, cpu clock throttled (total events = 1)", "warning", "overheating")
    c.add(at + 302, "kernel", "CPU2: Core temperature/speed normal")
    c.add(at + 302, "kernel", "CPU0: Package temperature/speed normal")


def failed_units(c, at):
    c.add(at, "systemd[1]", "Starting postgresql@15-main.service - PostgreSQL Cluster 15-main...")
    c.add(at + 1, "postgresql@15-main[8800]", "Error: /usr/lib/postgresql/15/bin/pg_ctl /usr/lib/postgresql/15/bin/pg_ctl start -D /var/lib/postgresql/15/main -l /var/log/postgresql/postgresql-15-main.log -s -o  -c config_file=\"/etc/postgresql/15/main/postgresql.conf\"  exited with status 1: ", "error", "database failed to start")
    c.add(at + 1, "systemd[1]", "postgresql@15-main.service: Can't open PID file /run/postgresql/15-main.pid (yet?) after start: No such file or directory")
    c.add(at + 1, "systemd[1]", "postgresql@15-main.service: Failed with result 'protocol'.", "error", "service failed")
    c.add(at + 1, "systemd[1]", "Failed to start postgresql@15-main.service - PostgreSQL Cluster 15-main.", "error", "service failed")
    c.add(at + 1, "systemd[1]", "Dependency failed for postgresql.service - PostgreSQL RDBMS.", "error", "dependency failed")
    c.add(at + 1, "systemd[1]", "postgresql.service: Job postgresql.service/start failed with result 'dependency'.", "error", "dependency failed")


def xfs_shutdown(c, at):
    c.add(at, "kernel", 'XFS (dm-2): metadata I/O error in "xfs_buf_ioend+0x13c/0x330 [xfs]" at daddr 0x2 len 1 error 5', "critical", "file system error")
    c.add(at, "kernel", "XFS (dm-2): log I/O error -5", "critical", "file system error")
    c.add(at, "kernel", "XFS (dm-2): Filesystem has been shut down due to log error (0x2).", "critical", "file system shut down")
    c.add(at, "kernel", "XFS (dm-2): Please unmount the filesystem and rectify the problem(s).", "critical", "file system shut down")


def sudo_abuse(c, at):
    c.add(at, "sudo[9911]", "mallory : 3 incorrect password attempts ; TTY=pts/2 ; PWD=/home/mallory ; USER=root ; COMMAND=/bin/bash", "warning", "failed sudo")
    c.add(at + 30, "sudo[9915]", "mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/home/mallory ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow", "warning", "sudo refused")


# Incidents and when (hours after the start) they happen.
INCIDENTS = [(time_trouble, 0.6), (sudo_abuse, 1.2), (failed_units, 1.7), (brute_force, 2.3), (network_and_heat, 3.1), (oom_kill, 4.0),
             (crash_loop, 4.6), (smart_failure, 5.2), (io_errors, 6.0), (hung_task, 6.5), (segfault, 7.1), (cgroup_oom, 7.8),
             (disk_full, 8.4), (hardware_errors, 9.0), (raid_degraded, 9.7), (kernel_oops, 10.3), (xfs_shutdown, 11.0)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=12)
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    corpus = Corpus(random.Random(args.seed))
    seconds = args.hours * 3600
    for source, per_hour in ROUTINE:
        for _ in range(int(per_hour * args.hours)):
            source(corpus, corpus.rng.uniform(0, seconds))
    for incident, hour in INCIDENTS:
        if hour < args.hours:
            incident(corpus, hour * 3600 + corpus.rng.uniform(0, 60))
    incidents = routine = 0
    with open(os.path.join(args.out, "corpus.log"), "w") as log, open(os.path.join(args.out, "labels.csv"), "w") as labels:
        labels.write("line,label,note\n")
        for number, (line, label, note) in enumerate(corpus.lines(), start=1):
            log.write(line + "\n")
            if label:
                incidents += 1
                labels.write(f"{number},{label},{note}\n")
            else:
                routine += 1
    print(f"{incidents + routine} lines: {incidents} incident lines labelled, {routine} routine (normal)")


if __name__ == "__main__":
    main()
