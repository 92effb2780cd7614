"""An isthmusd under test: its config, database, key and log in a folder of
its own, started through lib.proc (stopped by PID at teardown), optionally
inside a network namespace, several at once if a test wants.

    d = isthmusd()                       # conftest fixture: written and started
    token = d.issue_token("ci", "operator")
    status, body = d.request("GET", "/api/v1/health", token=token)
    d.stop()                             # asserts exit 0 and "stopped cleanly"

Extra config keys go per section: isthmusd(config={"ike": {"half_open_limit": 5}});
a value of None leaves the key out (the daemon's default applies).
"""
import json
import os
import re
from signal import SIGKILL, SIGTERM
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

from lib.httpreq import perform
from lib.util import free_port

REPO = Path(__file__).resolve().parents[3]
MIGRATIONS = REPO / "migrations"
READY_RX = r"(?m) daemon +ready$"


def binary():
    """The isthmusd to test: $ISTHMUS_BIN, else the repo's build/isthmusd."""
    return os.environ.get("ISTHMUS_BIN") or str(REPO / "build" / "isthmusd")


def free_udp_port(host="127.0.0.1"):
    return free_port(host, socket.SOCK_DGRAM)


def free_tcp_port(host="127.0.0.1"):
    return free_port(host)


def latest_schema():
    """(version, set of table names) that migrations/ defines, read from the
    SQL files themselves so that new migrations need no test edit."""
    version, tables = 0, set()
    for f in sorted(MIGRATIONS.glob("[0-9]*.sql")):
        version = max(version, int(f.name.split("_", 1)[0]))
        sql = f.read_text()
        tables |= set(re.findall(r"(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", sql))
        tables -= set(re.findall(r"(?i)DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)", sql))
    return version, tables | {"schema_migrations"}


def write_ini(path, sections):
    """Writes {section: {key: value}} as INI; returns {key: line number}
    per section, for tests that point at a line."""
    lines, where = [], {}
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        for key, value in keys.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            lines.append(f"{key} = {value}")
            where[(section, key)] = len(lines)
        lines.append("")
    Path(path).write_text("\n".join(lines))
    return where


class Isthmusd:
    """One daemon's files and process. Create through the conftest factory."""

    def __init__(self, procs, folder, name="isthmusd", netns=None, config=None,
                 env=None, api_host="127.0.0.1", ike_host=None, binary_path=None):
        self.procs = procs
        self.name = name
        self.netns = netns
        self.env = dict(env or {})
        self.bin = binary_path or binary()
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "isthmus.conf"
        self.db_path = self.dir / "isthmus.db"
        self.key_path = self.dir / "master.key"
        self.log_path = self.dir / "isthmusd.log"
        self.out_path = self.dir / "isthmusd.out"  # stdout/stderr of the process
        # Inside a fresh namespace every port is free; on the host, ask.
        self.api_host = api_host
        self.api_port = free_tcp_port(api_host) if not netns else 8443
        ike = ike_host or ("127.0.0.1" if not netns else "0.0.0.0")
        self.ike_port = free_udp_port() if not netns else 500
        self.natt_port = free_udp_port() if not netns else 4500
        while self.natt_port == self.ike_port:
            self.natt_port = free_udp_port()
        self.sections = {
            "daemon": {
                "database": self.db_path,
                "master_key_file": self.key_path,
                "log_file": self.log_path,
                "log_level": "info",
            },
            "ike": {"listen": ike, "port": self.ike_port, "natt_port": self.natt_port},
            "esp": {"workers": 1},
            "api": {"listen": self._hostport(api_host, self.api_port), "threads": 2},
        }
        for section, keys in (config or {}).items():
            self.sections.setdefault(section, {}).update(keys)
        # What the test overrode is what the harness talks to.
        self.api_host, self.api_port = self._split(self.sections["api"].get("listen"),
                                                   self.api_host, self.api_port)
        self.ike_port = int(self.sections["ike"].get("port") or 500)
        self.natt_port = int(self.sections["ike"].get("natt_port") or 4500)
        self.lines = write_ini(self.config_path, self.sections)
        self.proc = None

    @staticmethod
    def _split(listen, host, port):
        """(host, port) of an "[v6]:port" or "v4:port" value; the defaults
        when it is not one (a test of bad values)."""
        m = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]+):(\d+)", str(listen or ""))
        if not m:
            return host, port
        return (m.group(1), int(m.group(2))) if m.group(1) else (m.group(3), int(m.group(4)))

    @staticmethod
    def _hostport(host, port):
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def api_url(self):
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host
        return f"http://{host}:{self.api_port}"

    # --- the process -----------------------------------------------------

    def start(self, wait_ready=True, env=None, timeout=15.0):
        """Starts the daemon; by default waits for its "ready" log line."""
        assert not self.running(), f"{self.name} is already running"
        self._log_mark = self.log_size()
        full_env = dict(self.env)
        full_env.update(env or {})
        self.proc = self.procs.start([self.bin, "-c", str(self.config_path)],
                                     self.out_path, env=full_env, netns=self.netns)
        if wait_ready:
            self.wait_log(READY_RX, timeout=timeout, start=self._log_mark)
        return self

    def running(self):
        return self.proc is not None and self.proc.alive()

    def signal(self, sig):
        self.proc.signal(sig)

    def wait_exit(self, timeout=15.0):
        """Waits for the daemon to exit; returns its exit code."""
        return self.proc.wait(timeout=timeout)

    def stop(self, sig=SIGTERM, timeout=15.0):
        """Stops the daemon and asserts it stopped cleanly (exit 0 and
        "stopped cleanly" in its log). Returns the exit code."""
        assert self.proc is not None, f"{self.name} was never started"
        mark = self._log_mark
        if len(self.log()) < mark:
            mark = 0  # the log was rotated since the start
        if self.proc.alive():
            self.proc.signal(sig)
        rc = self.proc.wait(timeout=timeout)
        log = self.log()[mark:]
        assert rc == 0, f"{self.name} exited {rc}; log tail:\n{log[-3000:]}\n{self.out()[-2000:]}"
        assert "stopped cleanly" in log, f"{self.name}: no 'stopped cleanly'; log tail:\n{log[-3000:]}"
        return rc

    def kill(self):
        """SIGKILL, as a crash or the OOM killer would."""
        self.proc.signal(SIGKILL)
        return self.proc.wait(timeout=10)

    # --- its log -----------------------------------------------------------

    def log(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        return len(self.log())

    def out(self):
        try:
            return self.out_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits until the daemon's log file (from offset start) matches the
        regex; returns the match. Fails early if the daemon exits."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[start:]
            m = rx.search(text)
            if m:
                return m
            if self.proc is not None and not self.proc.alive():
                raise RuntimeError(
                    f"{self.name} exited ({self.proc.popen.returncode}) before /{pattern}/; "
                    f"log tail:\n{text[-3000:]}\noutput:\n{self.out()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"/{pattern}/ not in {self.log_path} after {timeout}s; "
                                   f"log tail:\n{text[-3000:]}")
            time.sleep(0.05)

    # --- the command line ---------------------------------------------------

    def run(self, *args, check=False, timeout=30, env=None, config=None):
        """Runs `isthmusd -c CONFIG ARGS...` to completion (in the daemon's
        namespace if it has one); returns the CompletedProcess. config: another
        config file than the daemon's own."""
        argv = [self.bin, "-c", str(config or self.config_path), *map(str, args)]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        full_env = dict(os.environ)
        full_env.update(self.env)
        full_env.update(env or {})
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=check, env=full_env)

    def issue_token(self, name, role, tenant=None):
        """Issues an API token with the command line and returns its text.
        The command line needs the database lock, so a running daemon is
        stopped (cleanly) for it and started again."""
        was_running = self.running()
        if was_running:
            self.stop()
        args = ["--issue-token", name, "--role", role]
        if tenant is not None:
            args += ["--tenant", tenant]
        r = self.run(*args)
        if r.returncode != 0:
            raise RuntimeError(f"--issue-token {name} failed ({r.returncode}): "
                               f"{r.stderr.strip()} {self.log()[-1000:]}")
        token = r.stdout.strip()
        assert re.fullmatch(r"ist_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}", token), token
        if was_running:
            self.start()
        return token

    # --- the API -------------------------------------------------------------

    def request(self, method, path, body=None, token=None, headers=None, timeout=10.0):
        """One HTTP request to the API; returns (status, parsed JSON or text,
        response headers as a dict with lower-case names). Runs inside the
        daemon's namespace when it has one."""
        req = {"method": method, "url": self.api_url + path, "timeout": timeout,
               "headers": dict(headers or {})}
        if token:
            req["headers"]["Authorization"] = f"Bearer {token}"
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                req["headers"].setdefault("Content-Type", "application/json")
            req["body"] = body if isinstance(body, str) else body.decode("latin-1")
        if self.netns:
            r = subprocess.run(["ip", "netns", "exec", self.netns, "/usr/bin/python3",
                                str(Path(__file__).with_name("httpreq.py"))],
                               input=json.dumps(req), capture_output=True, text=True,
                               timeout=timeout + 10, check=True)
            resp = json.loads(r.stdout)
        else:
            resp = perform(req)
        if "error" in resp:
            raise ConnectionError(f"{method} {path}: {resp['error']}")
        text = resp["body"]
        ctype = resp["headers"].get("content-type", "")
        parsed = text
        if "json" in ctype and text:
            parsed = json.loads(text)
        return resp["status"], parsed, resp["headers"]

    # --- its database -------------------------------------------------------

    def db(self):
        """A sqlite3 connection to the daemon's database (close it)."""
        return sqlite3.connect(str(self.db_path), timeout=10)

    def query(self, sql, args=()):
        con = self.db()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def schema(self):
        """(version, set of tables) of the database as it is."""
        con = self.db()
        try:
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' "
                "AND name NOT LIKE 'sqlite_%'")}
            version = 0
            if "schema_migrations" in tables:
                version = con.execute(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
            return version, tables
        finally:
            con.close()

    def integrity(self):
        return self.query("PRAGMA integrity_check")[0][0]
