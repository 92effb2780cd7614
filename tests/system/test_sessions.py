"""Live sessions as dashboards, corporate IT and MSPs see them.

A strongSwan client (alice, tenant t1) connects with EAP-MSCHAPv2 through
isthmusd and sends traffic (ping, iperf3) to the tenant LAN:

- GET /sessions shows her session with its CHILD_SA, and the counters match
  what iperf3 moved (within 2%); filters find it, another tenant's viewer
  token does not;
- /stats and /metrics (parsed with a strict Prometheus text parser) move
  with the traffic, on the API listener with a token and on
  [api] metrics_listen without one;
- DELETE /sessions/{id} brings the client's IKE SA down within a second,
  the address returns to the pool, FreeRADIUS's detail file holds Start,
  Interim-Update and Stop (Admin-Reset) with the right counters and the
  Class from the Access-Accept, and the session history has the row;
- disabling the user through the API ends her session the same way.

Every response is validated against openapi.yaml by lib/api.py.
"""
import json
import math
import re
import subprocess
import time
from pathlib import Path

import pytest

from lib import topo as T
from lib import vpn
from lib.proc import wait_for

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

CLASS = "acme-class-7"
METRICS_PORT = 9464
INTERIM = 5  # seconds: the policy's acct_interim_interval (the minimum)
UDP_LEN = 1200  # iperf3 datagram payload; inner packet = +8 UDP +20 IPv4
UDP_OVERHEAD = 28


# ---------------------------------------------------------------------------
# A strict parser of the Prometheus text format (0.0.4)

METRIC_RX = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RX = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class PromError(ValueError):
    pass


def parse_prometheus(text):
    """Parses exposition text into {family: {"type", "help", "samples":
    {(name, ((label, value), ...)): float}}}. Raises PromError on anything
    the format does not allow: a sample before its TYPE, a sample whose name
    is not its family's (or a histogram's _bucket/_sum/_count), bad names,
    bad escapes, duplicate series or TYPE lines, counters without _total,
    histogram buckets that are not cumulative or lack +Inf == _count."""
    if not text.endswith("\n"):
        raise PromError("the text does not end with a newline")
    fams, cur = {}, None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line[7:].split(" ", 1)[0]
            fams.setdefault(name, {"type": None, "help": None, "samples": {}})
            if fams[name]["help"] is not None:
                raise PromError(f"line {n}: second HELP for {name}")
            fams[name]["help"] = line[8 + len(name):]
            continue
        if line.startswith("# TYPE "):
            parts = line[7:].split(" ")
            if len(parts) != 2 or parts[1] not in ("counter", "gauge", "histogram",
                                                   "summary", "untyped"):
                raise PromError(f"line {n}: bad TYPE line {line!r}")
            name = parts[0]
            f = fams.setdefault(name, {"type": None, "help": None, "samples": {}})
            if f["type"] or f["samples"]:
                raise PromError(f"line {n}: TYPE of {name} repeated or after its samples")
            f["type"], cur = parts[1], name
            continue
        if line.startswith("#") or not line.strip():
            raise PromError(f"line {n}: unexpected line {line!r}")
        m = METRIC_RX.match(line)
        if not m:
            raise PromError(f"line {n}: bad metric name in {line!r}")
        name, rest = m.group(0), line[m.end():]
        labels = []
        if rest.startswith("{"):
            i = 1
            while rest[i] != "}":
                lm = LABEL_RX.match(rest, i)
                if not lm or rest[lm.end():lm.end() + 2] != '="':
                    raise PromError(f"line {n}: bad label in {line!r}")
                i, val = lm.end() + 2, []
                while rest[i] != '"':
                    c = rest[i]
                    if c == "\\":
                        esc = rest[i + 1]
                        if esc not in '\\"n':
                            raise PromError(f"line {n}: bad escape \\{esc}")
                        val.append("\n" if esc == "n" else esc)
                        i += 2
                    elif c == "\n":
                        raise PromError(f"line {n}: newline in a label value")
                    else:
                        val.append(c)
                        i += 1
                labels.append((lm.group(0), "".join(val)))
                i += 1
                if rest[i] == ",":
                    i += 1
                elif rest[i] != "}":
                    raise PromError(f"line {n}: expected , or }} in {line!r}")
            rest = rest[i + 1:]
        if not rest.startswith(" "):
            raise PromError(f"line {n}: no space before the value in {line!r}")
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2):
            raise PromError(f"line {n}: trailing text in {line!r}")
        try:
            value = float(fields[0])
        except ValueError:
            raise PromError(f"line {n}: bad value {fields[0]!r}")
        if cur is None:
            raise PromError(f"line {n}: sample {name} before any TYPE")
        ftype = fams[cur]["type"]
        allowed = {cur}
        if ftype == "histogram":
            allowed = {cur + "_bucket", cur + "_sum", cur + "_count"}
        if name not in allowed:
            raise PromError(f"line {n}: sample {name} inside family {cur}")
        if ftype == "counter" and not name.endswith("_total"):
            raise PromError(f"line {n}: counter {name} without _total")
        if len({k for k, _ in labels}) != len(labels):
            raise PromError(f"line {n}: repeated label name")
        key = (name, tuple(labels))
        if key in fams[cur]["samples"]:
            raise PromError(f"line {n}: duplicate series {name}{labels}")
        fams[cur]["samples"][key] = value
    for name, f in fams.items():
        if f["type"] is None or f["help"] is None:
            raise PromError(f"{name}: HELP and TYPE are both required")
        if f["type"] == "histogram":
            _check_histogram(name, f["samples"])
    return fams


def _check_histogram(name, samples):
    series = {}
    for (sname, labels), v in samples.items():
        base = tuple(kv for kv in labels if kv[0] != "le")
        series.setdefault(base, {"buckets": [], "sum": None, "count": None})
        if sname.endswith("_bucket"):
            le = dict(labels).get("le")
            if le is None:
                raise PromError(f"{name}: bucket without le")
            series[base]["buckets"].append((math.inf if le == "+Inf" else float(le), v))
        elif sname.endswith("_sum"):
            series[base]["sum"] = v
        else:
            series[base]["count"] = v
    for base, s in series.items():
        b = sorted(s["buckets"])
        if not b or b[-1][0] != math.inf:
            raise PromError(f"{name}{base}: no +Inf bucket")
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            raise PromError(f"{name}{base}: buckets are not cumulative")
        if s["count"] != b[-1][1] or s["sum"] is None:
            raise PromError(f"{name}{base}: _count differs from +Inf or _sum missing")


def value(fams, family, name=None, **labels):
    """The value of one series (0 when absent), labels matched exactly."""
    want = tuple(sorted(labels.items()))
    for (sname, ls), v in fams.get(family, {"samples": {}})["samples"].items():
        if sname == (name or family) and tuple(sorted(ls)) == want:
            return v
    return 0.0


def test_parser_is_strict():
    ok = ("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n"
          "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
          "h_sum 3.5\nh_count 2\n")
    fams = parse_prometheus(ok)
    assert value(fams, "a_total", x='q"\\\n') == 1
    bad = [
        ok[:-1],                                              # no final newline
        "a_total 1\n",                                        # no TYPE
        "# HELP a A.\n# TYPE a counter\na 1\n",               # counter without _total
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"\\q\"} 1\n",  # escape
        "# HELP g G.\n# TYPE g gauge\ng 1\ng 2\n",           # duplicate series
        "# HELP g G.\n# TYPE g gauge\nother 1\n",            # sample outside family
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",                               # not cumulative
        "# HELP g G.\n# TYPE g gauge\ng one\n",               # bad value
    ]
    for text in bad:
        with pytest.raises(PromError):
            parse_prometheus(text)


# ---------------------------------------------------------------------------
# the rig

class SessionRig(vpn.Rig):
    """The VPN rig, with alice's Access-Accept carrying a Class."""

    def start_radius(self, *args, **kw):
        plain, alice_pw = vpn.User, self.radius_users["alice"]

        def user(password, **kw):
            if password == alice_pw:
                kw.setdefault("reply", {"Class": f'"{CLASS}"'})
            return plain(password, **kw)
        vpn.User = user  # what the rig's start_radius builds its users with
        try:
            return super().start_radius(*args, **kw)
        finally:
            vpn.User = plain


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    cfg = {"api": {"metrics_listen": f"127.0.0.1:{METRICS_PORT}"}}
    with SessionRig(tmp_path_factory.mktemp("sessions"), tenants=2, clients=1,
                    isthmusd_config=cfg) as r:
        # The rig's RADIUS servers take no accounting unless given an acct_port.
        acct = [r.radius_body(acct_port=vpn.RADIUS_ACCT_PORT)]
        r.tenant(1, users={"alice": {}}, policy={"acct_interim_interval": INTERIM}, radius=acct)
        r.tenant(2, users={"bob": {}}, radius=acct)
        r.start_radius()
        r.wait_config()
        r.topo.start_iperf_server(1)
        yield r


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


def token(rig, role, tenant):
    r = rig.api.must("POST", "/api/v1/tokens", {"name": f"{role}-{tenant}", "role": role,
                                               "tenant": tenant}, status=201)
    return rig.api.with_token(r["token"])


def connect(rig):
    """alice connects; returns (client, her session as the API shows it)."""
    alice = rig.eap_client(1, "alice")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    return alice, rig.wait_session(1, "alice")


def session(rig, sid):
    return rig.api.must("GET", f"/api/v1/sessions/{sid}").json


def iperf_udp(rig, reverse=False, seconds=3):
    rep = rig.topo.iperf(rig.topo.client_ns(0), T.lan_host(1), seconds=seconds, udp=True,
                         length=UDP_LEN, bitrate="8M", reverse=reverse)
    s = rep["end"]["sum"]
    n = s["packets"] - s.get("lost_packets", 0)
    # 8 Mbit/s of 1228-byte packets: ~800/s. A rate the gateway carries
    # without loss even as a sanitizer build on a busy machine: the counters
    # are compared with what arrived, so a drop behind the gateway (its TUN
    # queue, the receiver's socket) would count against them.
    assert n > 400 * seconds, rep["end"]
    return n


def metrics(rig, api=None):
    r = (api or rig.api).must("GET", "/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse_prometheus(r.text)


def metrics_no_token(rig):
    """GET /metrics on [api] metrics_listen, inside the gateway namespace."""
    req = {"method": "GET", "url": f"http://127.0.0.1:{METRICS_PORT}/metrics", "timeout": 5}
    helper = Path(vpn.__file__).with_name("httpreq.py")
    out = subprocess.run(["ip", "netns", "exec", rig.topo.gw, "/usr/bin/python3", str(helper)],
                         input=json.dumps(req), capture_output=True, text=True, timeout=15,
                         check=True)
    resp = json.loads(out.stdout)
    assert resp.get("status") == 200, resp
    return parse_prometheus(resp["body"])


def acct_records(rig, sid):
    return [r for r in rig.radius.detail_records() if r.get("Acct-Session-Id") == sid]


def octets(rec, what):
    return int(rec.get(f"Acct-{what}-Octets", 0)) + \
        (int(rec.get(f"Acct-{what}-Gigawords", 0)) << 32)


# ---------------------------------------------------------------------------
# the tests

def test_session_is_listed_with_counters_that_match_iperf(rig):
    alice, s = connect(rig)
    sa = alice.sa()
    child = sa["children"][0]
    assert s["tenant"] == "t1" and s["identity"] == "alice" and s["username"] == "alice"
    assert s["auth_method"] == "eap"
    assert s["client"]["address"] == T.client_addr(0)
    assert s["virtual_addresses"] == sa["local_vips"] == [vpn.pool_addr(1, 2)]
    assert s["nat_detected"] == sa["nat_any"], (sa["nat_local"], sa["nat_remote"], sa["nat_fake"])
    [c] = s["child_sas"]
    # Our inbound SPI is the client's outbound one, and the other way round.
    assert int(c["spi_in"], 16) == int(child["spi_out"]) and \
        int(c["spi_out"], 16) == int(child["spi_in"])
    assert c["remote_ts"] == ["10.1.128.2/32"] and c["local_ts"] == [T.tenant_net(1)]
    assert c["algorithms"] and s["ike"]["algorithms"]

    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=3)
    assert ok, out
    after_ping = session(rig, s["id"])["totals"]
    assert after_ping["packets_in"] >= 3 and after_ping["packets_out"] >= 3
    assert after_ping["bytes_in"] >= 3 * 84

    # Upstream: what the LAN host received from iperf3, as inner packets.
    before = session(rig, s["id"])["totals"]
    n = iperf_udp(rig)
    mid = session(rig, s["id"])["totals"]
    want = n * (UDP_LEN + UDP_OVERHEAD)
    got = mid["bytes_in"] - before["bytes_in"]
    assert abs(got - want) <= 0.02 * want, (got, want, n)
    assert abs((mid["packets_in"] - before["packets_in"]) - n) <= 0.02 * n

    # Downstream (-R): what the client received.
    n = iperf_udp(rig, reverse=True)
    end = session(rig, s["id"])["totals"]
    want = n * (UDP_LEN + UDP_OVERHEAD)
    got = end["bytes_out"] - mid["bytes_out"]
    assert abs(got - want) <= 0.02 * want, (got, want, n)
    # A session's totals are its CHILD_SAs' counters summed.
    now = session(rig, s["id"])
    c = now["child_sas"][0]
    assert c["rekeys"] == 0
    assert [c[k] for k in ("bytes_in", "bytes_out", "packets_in", "packets_out")] == \
        [now["totals"][k] for k in ("bytes_in", "bytes_out", "packets_in", "packets_out")]

    # Filters.
    ops = rig.api
    assert [x["id"] for x in ops.must("GET", "/api/v1/sessions?user=ALICE")["items"]] == [s["id"]]
    assert ops.must("GET", "/api/v1/sessions?user=bob")["items"] == []
    assert [x["id"] for x in ops.must(
        "GET", f"/api/v1/sessions?virtual_address={vpn.pool_addr(1, 2)}")["items"]] == [s["id"]]
    assert [x["id"] for x in ops.must(
        "GET", f"/api/v1/sessions?client_address={T.client_addr(0)}&tenant=t1")["items"]] == \
        [s["id"]]
    assert ops.must("GET", "/api/v1/sessions?tenant=t2")["items"] == []
    assert ops.get("/api/v1/sessions?client_address=nope").status == 400

    # Statistics of the tenant.
    st = ops.must("GET", "/api/v1/tenants/t1/stats").json
    assert st["active_sessions"] == 1 and st["logins"]["established"] >= 1
    assert st["traffic"]["bytes_in"] >= end["bytes_in"]
    assert st["handshakes_per_second"] > 0
    assert ops.must("GET", "/api/v1/tenants/t2/stats")["active_sessions"] == 0


def test_another_tenants_viewer_cannot_see_or_end_it(rig):
    alice, s = connect(rig)
    other = token(rig, "tenant-viewer", "t2")
    assert other.must("GET", "/api/v1/sessions")["items"] == []
    assert other.get(f"/api/v1/sessions/{s['id']}").status == 404
    assert other.get("/api/v1/tenants/t1/sessions").status == 404
    assert other.get("/api/v1/tenants/t1/stats").status == 404
    assert other.delete(f"/api/v1/sessions/{s['id']}").status == 404
    assert other.must("GET", "/api/v1/stats")["active_sessions"] == 0
    fams = metrics(rig, other)
    assert not any("t1" in str(k) for f in fams.values() for k in f["samples"])
    # Its own tenant's viewer sees it but may not end it.
    own = token(rig, "tenant-viewer", "t1")
    assert [x["id"] for x in own.must("GET", "/api/v1/sessions")["items"]] == [s["id"]]
    assert own.delete(f"/api/v1/sessions/{s['id']}").status == 403
    assert alice.sa() is not None


def test_metrics_parse_and_move_with_traffic(rig):
    alice, s = connect(rig)
    m0 = metrics(rig)
    assert value(m0, "isthmus_sessions_active", tenant="t1") == 1
    assert value(m0, "isthmus_auth_successes_total", tenant="t1") >= 1
    assert value(m0, "isthmus_handshake_duration_seconds",
                 "isthmus_handshake_duration_seconds_count") >= 1
    assert value(m0, "isthmus_radius_requests_total", tenant="t1",
                 server="127.0.0.1:1812", kind="auth") >= 1
    assert "isthmus_esp_drops_total" in m0 and "isthmus_queue_depth" in m0
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=5)
    assert ok, out
    m1 = metrics_no_token(rig)
    assert value(m1, "isthmus_esp_io_packets_total", event="rx_esp") >= \
        value(m0, "isthmus_esp_io_packets_total", event="rx_esp") + 5
    for d in ("in", "out"):
        a = value(m0, "isthmus_traffic_packets_total", tenant="t1", direction=d)
        b = value(m1, "isthmus_traffic_packets_total", tenant="t1", direction=d)
        assert b >= a + 5, (d, a, b)
        assert value(m1, "isthmus_traffic_bytes_total", tenant="t1", direction=d) > \
            value(m0, "isthmus_traffic_bytes_total", tenant="t1", direction=d)


def test_delete_ends_the_tunnel_accounting_and_writes_history(rig):
    alice, s = connect(rig)
    sid = s["id"]
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=3)
    assert ok, out
    iperf_udp(rig, seconds=2)
    # An Interim-Update comes at the policy's interval.
    wait_for(lambda: any(r["Acct-Status-Type"] == "Interim-Update"
                         for r in acct_records(rig, sid)), INTERIM + 8, interval=0.25,
             what="an accounting Interim-Update")
    last = session(rig, sid)["totals"]

    mark = rig.mark()
    r = rig.api.delete(f"/api/v1/sessions/{sid}")
    assert r.status == 204
    t0 = time.monotonic()
    wait_for(lambda: not alice.list_sas(), 1.0, interval=0.05,
             what="the client's IKE SA gone after DELETE")
    gone_after = time.monotonic() - t0
    assert gone_after <= 1.0
    assert "vpn" not in alice.swanctl("--list-sas").stdout
    assert rig.api.get(f"/api/v1/sessions/{sid}").status == 404
    rig.wait_log(r"ending the session of 'alice': ended by the operator", start=mark)

    # Accounting: Start, Interim-Update(s), Stop, with the Class and counters.
    def stopped():
        recs = acct_records(rig, sid)
        return recs if recs and recs[-1]["Acct-Status-Type"] == "Stop" else None
    recs = wait_for(stopped, 10, interval=0.25, what="the accounting Stop")
    kinds = [x["Acct-Status-Type"] for x in recs]
    assert kinds[0] == "Start" and kinds[-1] == "Stop" and "Interim-Update" in kinds, kinds
    assert set(kinds[1:-1]) == {"Interim-Update"}, kinds
    stop = recs[-1]
    assert stop["Acct-Terminate-Cause"] == "Admin-Reset"
    for x in recs:
        assert x["User-Name"] == "alice"
        assert x["Framed-IP-Address"] == vpn.pool_addr(1, 2)
        assert x["Class"] == "0x" + CLASS.encode().hex()
    assert octets(stop, "Input") >= last["bytes_in"]
    assert octets(stop, "Input") <= last["bytes_in"] * 1.02 + 2000
    assert octets(stop, "Output") >= last["bytes_out"]
    assert int(stop["Acct-Input-Packets"]) >= last["packets_in"]
    interim = [x for x in recs if x["Acct-Status-Type"] == "Interim-Update"][-1]
    assert 0 < octets(interim, "Input") <= octets(stop, "Input")

    # The session history row.
    def row():
        items = rig.api.must("GET", "/api/v1/tenants/t1/session-history?user=alice")["items"]
        return next((x for x in items if x["session_id"] == sid), None)
    h = wait_for(row, 5, interval=0.1, what="the session history row")
    assert h["cause"] == "admin-reset" and h["identity"] == "alice"
    assert h["virtual_addresses"] == [vpn.pool_addr(1, 2)]
    assert h["totals"]["bytes_in"] == octets(stop, "Input")
    assert h["totals"]["bytes_out"] == octets(stop, "Output")
    assert h["client"]["address"] == T.client_addr(0)
    # Filtered out by time, and the other tenant's history is not there.
    assert rig.api.must("GET", "/api/v1/tenants/t1/session-history?"
                        "until=2000-01-01T00:00:00Z")["items"] == []
    assert token(rig, "tenant-viewer", "t2").get(
        "/api/v1/tenants/t1/session-history").status == 404

    # The address went back to the pool: the next session gets it again.
    rig.reset()
    again, s2 = connect(rig)
    assert s2["virtual_addresses"] == [vpn.pool_addr(1, 2)] and s2["id"] != sid


def test_disabling_the_user_ends_her_session(rig):
    alice, s = connect(rig)
    rig.set_user(1, "alice", enabled=False)
    try:
        wait_for(lambda: not alice.list_sas(), 5, interval=0.1,
                 what="alice's IKE SA gone after she was disabled")
        assert rig.api.must("GET", "/api/v1/sessions?user=alice")["items"] == []
        recs = wait_for(lambda: [x for x in acct_records(rig, s["id"])
                                 if x["Acct-Status-Type"] == "Stop"], 10, interval=0.25,
                        what="the accounting Stop")
        assert recs[0]["Acct-Terminate-Cause"] == "Admin-Reset"
    finally:
        rig.set_user(1, "alice", enabled=True)
        rig.wait_config()
