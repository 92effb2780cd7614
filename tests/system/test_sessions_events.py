"""Session events as a dashboard that listens (GET /api/v1/events) sees them.

With the daemon alone:
- a stream answers text/event-stream and starts with `retry:` and a
  comment; without a token it is a 401, a tenant token naming another
  tenant gets a 404, a Last-Event-ID that is not an id a 400, all problem
  documents the contract describes;
- a Last-Event-ID from before a restart gives an `events.missed` event;
- the 65th stream gets a 503 problem; an idle stream gets `: keepalive`
  within 15 s; SIGTERM with 64 streams open stops the daemon cleanly and
  every stream sees its end.

With a real strongSwan client (the VPN rig, two tenants):
- the operator's stream (and tenant t1's viewer's) shows session.up with
  the id /sessions shows, a failed login (wrong password) as auth.failure,
  and DELETE /sessions/{id} as session.down (admin-reset); tenant t2's
  viewer's stream shows none of them;
- a stream opened with Last-Event-ID just before session.up replays it.

Every event's data is validated against openapi.yaml.
"""
import json
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from lib import topo as T
from lib import vpn
from lib.api import Api, operator_client, validate
from lib.proc import wait_for

EVENTS = "/api/v1/events"
SESSION_EVENTS = ("session.up", "session.down", "session.rekey", "auth.failure")


class Stream:
    """One GET /api/v1/events read by curl (in the daemon's namespace when
    it has one); events and comments are collected by a thread."""

    def __init__(self, daemon, token, query="", last_id=None, timeout=120):
        argv = ["curl", "-sS", "-N", "-D", "-", "--max-time", str(timeout),
                "-H", f"Authorization: Bearer {token}"]
        if last_id is not None:
            argv += ["-H", f"Last-Event-ID: {last_id}"]
        argv.append(daemon.api_url + EVENTS + query)
        if daemon.netns:
            argv = ["ip", "netns", "exec", daemon.netns] + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        self.lock = threading.Lock()
        self.status, self.headers = None, {}
        self.events, self.comments, self.retry = [], [], None
        self.ended = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        f = self.proc.stdout
        line = f.readline()
        with self.lock:
            self.status = int(line.split()[1]) if line.startswith("HTTP/") else -1
        for line in f:  # the headers
            line = line.rstrip("\r\n")
            if not line:
                break
            k, _, v = line.partition(":")
            with self.lock:
                self.headers[k.strip().lower()] = v.strip()
        cur = {}
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(":"):
                with self.lock:
                    self.comments.append(line[1:].strip())
            elif not line:
                if "event" in cur or "data" in cur:
                    with self.lock:
                        self.events.append(cur)
                cur = {}
            else:
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                if k == "retry":
                    self.retry = int(v)
                elif k in ("id", "event", "data"):
                    cur[k] = v
        with self.lock:
            self.ended = True

    def opened(self, timeout=5):
        wait_for(lambda: "stream open" in self.snapshot()[1], timeout,
                 what="the stream's opening comment")
        assert self.status == 200, self.status
        assert self.headers["content-type"] == "text/event-stream"
        assert self.retry == 5000
        return self

    def snapshot(self):
        with self.lock:
            return list(self.events), list(self.comments)

    def wait_event(self, pred, timeout=10, what="an event"):
        def find():
            for e in self.snapshot()[0]:
                if pred(e):
                    return e
            return None
        try:
            return wait_for(find, timeout, interval=0.05, what=what)
        except TimeoutError as e:
            raise TimeoutError(f"{e}; the stream got {self.snapshot()[0]}") from None

    def session_events(self):
        return [e for e in self.snapshot()[0] if e.get("event") in SESSION_EVENTS]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        self.thread.join(timeout=5)


def data(e):
    """The event's JSON, checked against the contract."""
    d = json.loads(e["data"])
    schema = "EventsMissed" if e["event"] == "events.missed" else "SessionEvent"
    validate({"$ref": f"#/components/schemas/{schema}"}, d, f"event {e}")
    assert d["type"] == e["event"]
    if "id" in d:
        assert str(d["id"]) == e["id"]
    return d


def of_type(kind, **fields):
    def pred(e):
        if e.get("event") != kind:
            return False
        d = json.loads(e["data"])
        return all(d.get(k) == v for k, v in fields.items())
    return pred


# ---------------------------------------------------------------------------
# the daemon alone

def raw_stream(daemon, token):
    """A stream on a plain socket (cheap: dozens at once): returns the socket
    and what came after the headers, once they are read."""
    s = socket.create_connection((daemon.api_host, daemon.api_port), timeout=10)
    s.sendall(f"GET {EVENTS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
              f"Accept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        s.close()
        raise AssertionError(f"not a stream: {head[:200]!r}")
    return s, head.split(b"\r\n\r\n", 1)[1]


def try_stream(daemon, token):
    """raw_stream, or None on a 503."""
    try:
        return raw_stream(daemon, token)
    except AssertionError as e:
        if "HTTP/1.1 503" in str(e):
            return None
        raise


def read_to_end(s, timeout=10):
    """Everything the socket gets until the peer closes it or the chunked
    body ends; raises if neither happens in time."""
    s.settimeout(timeout)
    got = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            return got
        got += chunk
        if got.endswith(b"0\r\n\r\n"):
            return got
    raise TimeoutError("the stream did not end")


def test_stream_answers_and_refuses_as_the_contract_says(isthmusd):
    d = isthmusd(start=False)
    ops = operator_client(d)
    for tid in ("acme", "beta"):  # disabled: no device is made for them
        ops.must("POST", "/api/v1/tenants", {
            "id": tid, "name": tid.title(), "enabled": False,
            "gateway_ids": [f"vpn.{tid}.example"],
            "network": {"ifname": f"sse-{tid}", "netns": f"sse-{tid}-ns", "mtu": 1400}},
            status=201)
    acme = ops.with_token(ops.must("POST", "/api/v1/tokens", {
        "name": "acme-view", "role": "tenant-viewer", "tenant": "acme"}, status=201)["token"])

    r = Api(d, None).get(EVENTS)
    assert r.status == 401
    r = acme.get(EVENTS + "?tenant=beta")
    assert r.status == 404, r
    r = ops.get(EVENTS + "?tenant=nosuch")
    assert r.status == 404, r
    r = ops.get(EVENTS, headers={"Last-Event-ID": "12x"})
    assert r.status == 400 and r.problem_field() == "Last-Event-ID", r

    streams = [Stream(d, acme.token).opened(), Stream(d, ops.token, "?tenant=acme").opened(),
               Stream(d, ops.token).opened()]
    try:
        # An id from another life of the daemon: told that events were missed.
        s = Stream(d, ops.token, last_id=99)
        streams.append(s)
        s.opened()
        e = s.wait_event(of_type("events.missed"), what="events.missed")
        assert data(e) == {"type": "events.missed", "missed": None, "resumed_after": 0}
        assert all(not x.session_events() for x in streams)
    finally:
        for s in streams:
            s.close()


def stream_gauge(api):
    """isthmus_api_event_streams from /metrics."""
    text = api.get("/metrics").text
    m = re.search(r"(?m)^isthmus_api_event_streams (\d+)$", text)
    assert m, text[:2000]
    return int(m.group(1))


def test_stream_limit_keepalive_and_a_clean_stop(isthmusd):
    d = isthmusd(start=False)
    ops = operator_client(d)
    socks = []
    try:
        for _ in range(64):
            sock, got = raw_stream(d, ops.token)
            socks.append(sock)
        t0 = time.monotonic()
        r = ops.get(EVENTS)
        assert r.status == 503 and "too many event streams" in r["detail"], r
        assert stream_gauge(ops) == 64
        socks.pop(0).close()  # a client that goes away
        # Nothing happens: the keepalive comment comes within 15 s.
        first = socks[-1]
        first.settimeout(20)
        while b": keepalive" not in got and time.monotonic() - t0 < 20:
            chunk = first.recv(4096)
            if not chunk:
                break
            got += chunk
        assert b": stream open" in got and b": keepalive" in got, got
        assert time.monotonic() - t0 < 17
        # The client that went away was let go at its keepalive: its place
        # is free.
        sock, _ = wait_for(lambda: try_stream(d, ops.token), 3, interval=0.2,
                           what="a place freed by the client that left")
        socks.append(sock)
        assert stream_gauge(ops) == 64
        socks.pop().close()
        wait_for(lambda: stream_gauge(ops) == 63, 20, interval=0.5,
                 what="the metric counting the stream that left")
        # SIGTERM with 64 streams open: every stream ends, the daemon stops.
        d.stop(signal.SIGTERM, timeout=10)
        for s in socks:
            read_to_end(s, timeout=5)
    finally:
        for s in socks:
            s.close()


# ---------------------------------------------------------------------------
# with a strongSwan client

pytestmark_vpn = pytest.mark.skipif(vpn.skip_reason() is not None,
                                    reason=vpn.skip_reason() or "")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    if vpn.skip_reason():
        pytest.skip(vpn.skip_reason())
    with vpn.Rig(tmp_path_factory.mktemp("events"), tenants=2, clients=2, prefix="sse") as r:
        r.tenant(1, users={"alice": {}})
        r.tenant(2, users={"bob": {}})
        r.start_radius()
        r.wait_config()
        yield r


@pytest.fixture
def clean_clients(rig):
    yield
    rig.reset()


def token(rig, role, tenant):
    return rig.api.must("POST", "/api/v1/tokens", {"name": f"{role}-{tenant}", "role": role,
                                                   "tenant": tenant}, status=201)["token"]


@pytestmark_vpn
def test_session_up_failure_and_down_reach_the_right_streams(rig, clean_clients):
    gw = rig.gw
    ops = Stream(gw, rig.api.token).opened()
    t1 = Stream(gw, token(rig, "tenant-viewer", "t1")).opened()
    t2 = Stream(gw, token(rig, "tenant-viewer", "t2")).opened()
    try:
        alice = rig.eap_client(1, "alice")
        ok, log = alice.initiate("vpn", "net", timeout=15)
        assert ok, log
        s = rig.wait_session(1, "alice")

        up = data(ops.wait_event(of_type("session.up", session_id=s["id"]),
                                 what="session.up on the operator's stream"))
        assert up["tenant"] == "t1" and up["identity"] == "alice"
        assert up["client_address"] == s["client"]["address"] == T.client_addr(0)
        assert up["virtual_addresses"] == s["virtual_addresses"] == [vpn.pool_addr(1, 2)]
        assert data(t1.wait_event(of_type("session.up", session_id=s["id"]),
                                  what="session.up on t1's stream")) == up

        # A wrong password, from the second client namespace.
        mallory = rig.eap_client(1, "alice", password="not-alices-password", name="mallory",
                                 ns=rig.topo.client_ns(1))
        ok, log = mallory.initiate("vpn", "net", timeout=15)
        assert not ok, log
        fail = data(ops.wait_event(of_type("auth.failure", identity="alice"),
                                   what="auth.failure on the operator's stream"))
        assert fail["tenant"] == "t1" and fail["session_id"] is None
        assert fail["reason"] == "radius_reject"
        assert fail["client_address"] == T.client_addr(1)
        assert fail["virtual_addresses"] == []
        assert fail["id"] > up["id"]
        t1.wait_event(of_type("auth.failure", identity="alice"), what="auth.failure on t1's")

        rig.api.must("DELETE", f"/api/v1/sessions/{s['id']}", status=204)
        down = data(ops.wait_event(of_type("session.down", session_id=s["id"]),
                                   what="session.down on the operator's stream"))
        assert down["cause"] == "admin-reset" and down["tenant"] == "t1"
        assert down["id"] > fail["id"]
        t1.wait_event(of_type("session.down", session_id=s["id"]), what="session.down on t1's")

        # Reconnecting just before session.up replays from there, in order.
        again = Stream(gw, rig.api.token, last_id=up["id"] - 1).opened()
        try:
            again.wait_event(of_type("session.down", session_id=s["id"]), what="the replay")
            kinds = [e["event"] for e in again.session_events()]
            assert kinds[0] == "session.up" and kinds.index("auth.failure") < \
                kinds.index("session.down"), kinds
            assert not any(e["event"] == "events.missed" for e in again.snapshot()[0])
        finally:
            again.close()

        # t2's viewer saw nothing of it (its stream got the same time, and
        # more: everything above reached the other streams first).
        assert t2.session_events() == [], t2.session_events()
        assert t2.status == 200 and not t2.ended
    finally:
        for st in (ops, t1, t2):
            st.close()


@pytestmark_vpn
def test_rekeys_and_the_clients_own_delete_are_events_of_the_same_session(rig, clean_clients):
    ops = Stream(rig.gw, rig.api.token, "?tenant=t1").opened()
    t2 = Stream(rig.gw, token(rig, "tenant-viewer", "t2")).opened()
    try:
        # The client rekeys its CHILD_SA and its IKE SA within seconds.
        alice = rig.eap_client(1, "alice", child_rekey_time="3s", child_life_time="60s",
                               child_rand_time="0s", rekey_time="5s", over_time="60s",
                               rand_time="0s")
        ok, log = alice.initiate("vpn", "net", timeout=15)
        assert ok, log
        up = data(ops.wait_event(of_type("session.up", identity="alice"), what="session.up"))
        sid = up["session_id"]
        child = data(ops.wait_event(of_type("session.rekey", session_id=sid, rekeyed="child"),
                                    timeout=15, what="a CHILD_SA rekey"))
        ike = data(ops.wait_event(of_type("session.rekey", session_id=sid, rekeyed="ike"),
                                  timeout=15, what="an IKE SA rekey"))
        assert child["tenant"] == ike["tenant"] == "t1"
        assert ike["virtual_addresses"] == up["virtual_addresses"]
        # The session keeps its id across the IKE SA rekey.
        assert [x["id"] for x in rig.api.must(
            "GET", "/api/v1/tenants/t1/sessions?user=alice")["items"]] == [sid]

        rig.disconnect(alice)
        down = data(ops.wait_event(of_type("session.down", session_id=sid),
                                   what="session.down after the client's Delete"))
        assert down["cause"] == "user-request"
        assert t2.session_events() == []
    finally:
        ops.close()
        t2.close()
