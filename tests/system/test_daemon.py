"""The daemon's life as an operator sees it: checking a config, starting,
answering health checks, stopping on signals, rotating its log, refusing a
second instance, migrating, issuing tokens, and surviving being killed."""
import hashlib
import json
import re
import signal
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from lib.isthmusd import REPO, latest_schema

TOKEN_RX = r"ist_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}"


def nothing_listens(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) != 0


def free_port_v6():
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def db_files(path):
    """The database and its WAL, as bytes (what a thief would copy)."""
    data = b""
    for suffix in ("", "-wal"):
        p = Path(str(path) + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


# --- the configuration ------------------------------------------------------

def test_check_config_accepts_the_shipped_example(isthmusd, tmp_path):
    example = (REPO / "deploy" / "isthmus.conf.example").read_text()
    conf = tmp_path / "example.conf"
    conf.write_text(example
                    .replace("/var/lib/isthmus/isthmus.db", str(tmp_path / "var" / "i.db"))
                    .replace("/etc/isthmus/master.key", str(tmp_path / "master.key")))
    d = isthmusd(start=False)
    r = d.run("--check-config")  # the harness's own config
    assert r.returncode == 0, r.stderr
    r = d.run("--check-config", config=conf)
    assert r.returncode == 0, r.stderr
    assert f"{conf}: configuration OK" in r.stdout
    # Checking touches nothing.
    assert not (tmp_path / "var").exists()
    assert not (tmp_path / "master.key").exists()


MISTAKES = [
    # (section, key, value, words the message must contain)
    ("daemon", "databse", "/tmp/x.db", ["databse", "unknown key"]),
    ("ike", "port", "70000", ["port", "out of range"]),
    ("api", "listen", "localhost:1", ["listen", "address:port"]),
    ("daemon", "log_level", "verbose", ["log_level", "verbose"]),
]


@pytest.mark.parametrize("section,key,value,words", MISTAKES,
                         ids=[f"{m[0]}.{m[1]}" for m in MISTAKES])
def test_config_mistake_is_refused_naming_its_line(isthmusd, section, key, value, words):
    d = isthmusd(start=False, config={section: {key: value}})
    line = d.lines[(section, key)]
    r = d.run("--check-config")
    assert r.returncode != 0
    assert f"{d.config_path}:{line}:" in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    # The daemon does not start on it either, and says the same.
    d.start(wait_ready=False)
    assert d.wait_exit() != 0
    assert f"{d.config_path}:{line}:" in d.out()
    assert not d.db_path.exists()
    assert nothing_listens(d.api_port)


# --- start, health, signals -------------------------------------------------

def test_starts_on_a_fresh_database_and_answers_health_checks(isthmusd):
    d = isthmusd()
    status, body, headers = d.request("GET", "/health")
    assert status == 200 and body == {"status": "ok"}
    assert headers["content-type"].startswith("application/json")
    status, body, _ = d.request("GET", "/ready")
    assert status == 200 and body == {"status": "ready"}
    # The store was created at the latest schema, the master key 0600.
    assert d.schema() == latest_schema()
    assert d.key_path.stat().st_mode & 0o777 == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}\n", d.key_path.read_text())
    assert d.stop(signal.SIGTERM) == 0
    assert "Terminated received: shutting down" in d.log()
    assert nothing_listens(d.api_port)


def thread_niceness(pid, name):
    """Niceness of each thread of pid named name (field 19 of its stat)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == name:
                stat = (task / "stat").read_text()
                out.append(int(stat[stat.rindex(")") + 2:].split()[16]))
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return out


@pytest.mark.parametrize("nice", [None, 0, 15])
def test_api_threads_yield_to_the_data_plane(isthmusd, nice):
    # The HTTP threads run at [api] nice (default 10): pages for dashboards
    # never take CPU the ESP workers or the IKE thread want.
    d = isthmusd(config={"api": {"nice": nice}} if nice is not None else None)
    for _ in range(6):  # reach both HTTP threads of the harness's config
        assert d.request("GET", "/health")[0] == 200
    got = thread_niceness(d.proc.pid, "api-http")
    assert got and set(got) == {10 if nice is None else nice}
    # The data plane's workers keep the niceness the daemon started with.
    assert set(thread_niceness(d.proc.pid, "esp-worker-0")) == {0}
    d.stop()


def test_sigint_stops_cleanly(isthmusd):
    d = isthmusd()
    assert d.stop(signal.SIGINT) == 0
    assert "Interrupt received: shutting down" in d.log()


def test_restart_reuses_database_and_master_key(isthmusd):
    d = isthmusd()
    key = d.key_path.read_text()
    d.stop()
    d.start()
    assert "(up to date)" in d.log()
    assert d.key_path.read_text() == key
    d.stop()


def test_sighup_reopens_the_log_file(isthmusd):
    d = isthmusd()
    rotated = d.log_path.with_name("isthmusd.log.1")
    d.log_path.rename(rotated)  # what logrotate does
    d.signal(signal.SIGHUP)
    d.wait_log(r"SIGHUP: log file reopened", start=0)
    d.stop()
    old, new = rotated.read_text(), d.log_path.read_text()
    assert " daemon ready" in old and "reopened" not in old
    assert "reopened" in new and "stopped cleanly" in new
    assert " daemon ready" not in new


def test_second_daemon_on_the_same_database_is_refused(isthmusd):
    first = isthmusd("first")
    second = isthmusd("second", start=False,
                      config={"daemon": {"database": first.db_path}})
    second.start(wait_ready=False)
    assert second.wait_exit() == 1
    assert re.search(r"database .*isthmus\.db is in use by another isthmusd", second.log())
    assert "ready" not in second.log()
    # The first one carries on undisturbed.
    assert first.running()
    assert first.request("GET", "/health")[0] == 200
    first.stop()


def test_two_daemons_side_by_side(isthmusd):
    a, b = isthmusd("a"), isthmusd("b")
    assert a.api_port != b.api_port
    assert a.request("GET", "/ready")[0] == 200
    assert b.request("GET", "/ready")[0] == 200
    a.stop()
    assert b.request("GET", "/health")[0] == 200
    b.stop()


def test_api_on_ipv6_loopback(isthmusd):
    port = free_port_v6()
    d = isthmusd(config={"api": {"listen": f"[::1]:{port}"}})
    assert d.api_url == f"http://[::1]:{port}"
    assert d.request("GET", "/health")[0] == 200
    assert f"listening on [::1]:{port}" in d.log()
    d.stop()


def test_daemon_in_a_network_namespace(isthmusd, net):
    ns = net.ns("gw")
    d = isthmusd(netns=ns)
    status, body, _ = d.request("GET", "/health")
    assert status == 200 and body == {"status": "ok"}
    d.stop()


# --- the command line -------------------------------------------------------

def xdp_prog_of(ns, dev):
    """The name of the XDP program on dev in ns, or None."""
    r = subprocess.run(["ip", "-n", ns, "-d", "-j", "link", "show", "dev", dev],
                       capture_output=True, text=True, check=True)
    xdp = json.loads(r.stdout)[0].get("xdp") or {}
    return (xdp.get("prog") or {}).get("name")


def test_af_xdp_receive_survives_a_crash_and_leaves_with_the_daemon(isthmusd, net):
    # [esp] xdp attaches the program to the client-facing interface; a
    # daemon killed with it attached leaves it there, and the next start
    # takes it over; a clean stop removes it. An interface that does not
    # exist is a warning, and the sockets carry the ESP.
    ns = net.ns("gw")
    peer = net.ns("cl")
    net.link(ns, "198.51.100.1/24", peer, "198.51.100.10/24", name_a="wan0")
    d = isthmusd(netns=ns, config={"esp": {"xdp": "wan0, nosuch0"}})
    d.wait_log(r"AF_XDP receive on wan0: 1 queue\(s\), native XDP")
    d.wait_log(r"no AF_XDP receive on nosuch0 \(\[esp\] xdp: no interface 'nosuch0'\): "
               r"its ESP goes through the sockets")
    assert xdp_prog_of(ns, "wan0") == "isthmus_esp"
    assert d.kill() == -signal.SIGKILL
    assert xdp_prog_of(ns, "wan0") == "isthmus_esp"
    d.start()
    d.wait_log(r"AF_XDP receive on wan0: 1 queue\(s\), native XDP", start=d._log_mark)
    assert d.request("GET", "/health")[0] == 200
    assert d.stop() == 0
    assert xdp_prog_of(ns, "wan0") is None


def test_migrate_creates_the_schema_and_exits(isthmusd):
    d = isthmusd(start=False)
    r = d.run("--migrate")
    assert r.returncode == 0, r.stderr
    assert d.schema() == latest_schema()
    assert d.integrity() == "ok"
    r = d.run("--migrate")  # again: nothing to do
    assert r.returncode == 0, r.stderr
    assert "(up to date)" in r.stderr


def test_migrate_refuses_a_database_from_a_newer_isthmusd(isthmusd):
    d = isthmusd(start=False)
    assert d.run("--migrate").returncode == 0
    con = d.db()
    with con:
        con.execute("INSERT INTO schema_migrations VALUES (999999, '999999_future', 0)")
    con.close()
    r = d.run("--migrate")
    assert r.returncode == 1
    assert "newer than this isthmusd knows" in r.stderr
    d.start(wait_ready=False)
    assert d.wait_exit() == 1
    assert "newer than this isthmusd knows" in d.log()


def test_issue_token_prints_it_once_and_stores_only_its_hash(isthmusd):
    d = isthmusd(start=False)
    r = d.run("--issue-token", "grafana", "--role", "operator")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert r.stdout == token + "\n"  # one line: the token, nothing else
    assert re.fullmatch(TOKEN_RX, token)
    token_id, secret = token[4:16], token[17:]
    rows = d.query("SELECT id, name, role, tenant_id, hash FROM api_tokens")
    assert len(rows) == 1
    assert rows[0][:4] == (token_id, "grafana", "operator", None)
    assert rows[0][4] == hashlib.sha256(token.encode()).digest()
    # Neither the token nor its secret is anywhere in the database, nor in
    # what the command logged; the log names the token by its id.
    stored = db_files(d.db_path)
    assert token.encode() not in stored and secret.encode() not in stored
    assert secret not in r.stderr and token_id in r.stderr
    # The issuance is in the audit trail.
    assert d.query("SELECT actor, resource, resource_id, action FROM audit_log") == [
        ("cli", "token", token_id, "create")]
    # A second token is another token.
    r2 = d.run("--issue-token", "noc", "--role", "operator")
    assert r2.returncode == 0 and r2.stdout.strip() != token
    assert d.query("SELECT count(*) FROM api_tokens")[0][0] == 2


@pytest.mark.parametrize("args,message", [
    (["--role", "tenant-admin"], "--tenant is required for a tenant role"),
    (["--role", "tenant-viewer"], "--tenant is required for a tenant role"),
    (["--role", "operator", "--tenant", "acme"], "--tenant is only for"),
    (["--role", "root"], "--role must be operator, tenant-admin or tenant-viewer"),
    (["--role", "tenant-admin", "--tenant", "nosuch"], "no tenant 'nosuch'"),
], ids=["admin-without-tenant", "viewer-without-tenant", "operator-with-tenant",
        "unknown-role", "unknown-tenant"])
def test_issue_token_refuses_bad_roles(isthmusd, args, message):
    d = isthmusd(start=False)
    assert d.run("--migrate").returncode == 0
    r = d.run("--issue-token", "x", *args)
    assert r.returncode != 0
    assert message in r.stderr
    assert r.stdout == ""
    assert d.query("SELECT count(*) FROM api_tokens")[0][0] == 0


def test_issue_tenant_token_for_an_existing_tenant(isthmusd):
    d = isthmusd(start=False)
    assert d.run("--migrate").returncode == 0
    con = d.db()
    with con:
        con.execute("INSERT INTO tenants (id, name, ifname, created_at, updated_at) "
                    "VALUES ('acme', 'Acme', 'ist-acme', 0, 0)")
    con.close()
    token = d.issue_token("acme-dash", "tenant-viewer", tenant="acme")
    assert d.query("SELECT role, tenant_id FROM api_tokens WHERE id=?", (token[4:16],)) == [
        ("tenant-viewer", "acme")]


def test_issue_token_while_the_daemon_runs_says_why_it_cannot(isthmusd):
    d = isthmusd()
    r = d.run("--issue-token", "x", "--role", "operator")
    assert r.returncode == 1
    assert "in use by another isthmusd" in r.stderr
    assert d.running()
    d.stop()


# --- crashes ----------------------------------------------------------------

def test_killed_inside_a_migration_then_restarted(isthmusd):
    d = isthmusd(start=False, env={"ISTHMUS_TEST_PAUSE_IN_MIGRATION": "1"})
    d.start(wait_ready=False)
    d.wait_log(r"pausing inside migration 1")
    assert d.kill() == -signal.SIGKILL
    # Nothing of the interrupted migration is visible.
    version, tables = d.schema()
    assert version == 0
    assert tables <= {"schema_migrations"}
    # A restart (without the hook) migrates the whole way.
    d.env.pop("ISTHMUS_TEST_PAUSE_IN_MIGRATION")
    d.start()
    assert d.schema() == latest_schema()
    assert d.integrity() == "ok"
    assert d.request("GET", "/ready")[0] == 200
    d.stop()


def test_token_survives_sigkill_of_the_running_daemon(isthmusd):
    d = isthmusd()
    token = d.issue_token("ci", "operator")  # stops, issues, starts again
    assert d.running()
    assert d.kill() == -signal.SIGKILL
    d.start()  # the lock of the killed daemon does not hold the new one back
    assert d.integrity() == "ok"
    rows = d.query("SELECT hash FROM api_tokens WHERE id=?", (token[4:16],))
    assert rows == [(hashlib.sha256(token.encode()).digest(),)]
    d.stop()


def test_database_is_consistent_while_the_daemon_runs(isthmusd):
    """A reader (a backup, a dashboard) can open the store while it runs."""
    d = isthmusd()
    con = sqlite3.connect(f"file:{d.db_path}?mode=ro", uri=True, timeout=5)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    d.stop()
