"""The EAP relay and RADIUS accounting against a real FreeRADIUS 3.2 and a
tiny fake RADIUS server, before the IKE engine exists.

The C side (tests/unit/test_radius_live.c) plays the EAP client itself and
runs the relay and the auth threads against the servers started here; this
file starts the servers, runs it, and then checks what the servers saw:
FreeRADIUS's accounting detail file and the fake server's request log.
"""
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib.freeradius import FreeRadius, User, free_udp_port  # noqa: E402
from lib.proc import ProcSet  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUILD = os.environ.get("ISTHMUS_BUILD", "build")
FAKE = Path(__file__).resolve().parent / "radius" / "fake_radius.py"
SECRET = "radius-test-secret"
FAKE_SECRET = "fake-secret"
RECV_KEY = bytes(range(0x40, 0x60)).hex()
SEND_KEY = bytes(range(0x60, 0x80)).hex()

LIVE_TESTS = [
    "test_eap_md5_accept",
    "test_eap_md5_wrong_password_rejected",
    "test_state_is_needed",
    "test_failover_by_priority",
    "test_no_server_answers",
    "test_bad_message_authenticator_dropped",
    "test_missing_message_authenticator_dropped",
    "test_bad_response_authenticator_dropped",
    "test_long_eap_state_and_msk",
    "test_eap_tls_msk",
    "test_slow_server_does_not_block_others",
    "test_accounting_start_interim_stop",
]


def build(target):
    """Builds the test binary (ISTHMUS_BUILD selects the build folder). When
    the tree does not build right now (another module mid-change) an
    existing binary newer than its source is used. $<TARGET>_BIN (e.g.
    TEST_RADIUS_LIVE_BIN) names a prebuilt one instead (a sanitizer build)."""
    given = os.environ.get(f"{target.upper()}_BIN")
    if given:
        return Path(given)
    path = REPO / BUILD / "tests" / target
    r = subprocess.run(["make", "-s", f"BUILD={BUILD}", str(path.relative_to(REPO))],
                       cwd=REPO, timeout=600, capture_output=True, text=True)
    if r.returncode != 0:
        src = REPO / "tests" / "unit" / f"{target}.c"
        if not (path.exists() and path.stat().st_mtime >= src.stat().st_mtime):
            pytest.fail(f"cannot build {path}:\n{r.stderr[-3000:]}")
    return path


def start_fake(procs, folder, mode):
    p = procs.start([sys.executable if "python3" in sys.executable else "/usr/bin/python3",
                     str(FAKE), "--secret", FAKE_SECRET, "--mode", mode,
                     "--recv-key", RECV_KEY, "--send-key", SEND_KEY,
                     "--lifetime", "120"],
                    folder / f"fake-{mode}.log")
    m = p.wait_log(r"ready (\d+)", timeout=10)
    return p, int(m.group(1))


def fake_requests(p):
    return [json.loads(line) for line in p.log().splitlines()
            if line.startswith("{")]


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    folder = tmp_path_factory.mktemp("radius")
    procs = ProcSet()
    radius = FreeRadius(folder / "freeradius", secret=SECRET, users={
        "alice": User("alice-secret", framed_ip="10.1.0.2",
                      reply={"Class": '"acme-class"', "Session-Timeout": "3600",
                             "Acct-Interim-Interval": "30"}),
    })
    try:
        radius.start()
        fakes = {m: start_fake(procs, folder, m)
                 for m in ("silent", "bad-ma", "no-ma", "bad-auth", "mppe")}
        session = "isthmus-" + uuid.uuid4().hex[:12]
        env = dict(os.environ)
        env.update({
            "RADIUS_LIVE_AUTH_PORT": str(radius.auth_port),
            "RADIUS_LIVE_ACCT_PORT": str(radius.acct_port),
            "RADIUS_LIVE_SECRET": SECRET,
            "RADIUS_LIVE_USER": "alice",
            "RADIUS_LIVE_PASSWORD": "alice-secret",
            "RADIUS_FAKE_SECRET": FAKE_SECRET,
            "RADIUS_FAKE_SILENT_PORT": str(fakes["silent"][1]),
            "RADIUS_FAKE_BADMA_PORT": str(fakes["bad-ma"][1]),
            "RADIUS_FAKE_NOMA_PORT": str(fakes["no-ma"][1]),
            "RADIUS_FAKE_BADAUTH_PORT": str(fakes["bad-auth"][1]),
            "RADIUS_FAKE_MPPE_PORT": str(fakes["mppe"][1]),
            "RADIUS_FAKE_RECV_KEY": RECV_KEY,
            "RADIUS_FAKE_SEND_KEY": SEND_KEY,
            "RADIUS_CLOSED_PORT": str(free_udp_port()),
            "RADIUS_ACCT_SESSION": session,
            "RADIUS_LIVE_TLS_CA": radius.certs["ca"],
            "RADIUS_LIVE_TLS_CERT": radius.certs["client"],
            "RADIUS_LIVE_TLS_KEY": radius.certs["client_key"],
        })
        live = build("test_radius_live")
        out = subprocess.run([str(live)], env=env, capture_output=True, text=True,
                             timeout=120)
        yield {"radius": radius, "fakes": fakes, "out": out, "env": env,
               "session": session}
    finally:
        procs.stop_all()
        radius.stop()


@pytest.mark.parametrize("name", LIVE_TESTS)
def test_live(rig, name):
    out = rig["out"].stdout + rig["out"].stderr
    assert f"[       OK ] {name}" in out, out[-4000:]


def test_nothing_skipped(rig):
    out = rig["out"].stdout
    print(out)  # the figures (latencies, log lines) with pytest -s
    assert "SKIPPED" not in out, out[-2000:]
    assert rig["out"].returncode == 0, out[-4000:]


def test_requests_carry_nas_attributes_and_valid_message_authenticator(rig):
    """What the relay sent, as the independent fake server saw it."""
    reqs = fake_requests(rig["fakes"]["mppe"][0])
    access = [r for r in reqs if r["code"] == 1]
    assert len(access) == 2
    for r in access:
        assert r["ma_ok"] is True
        # User-Name, NAS-IP-Address, Service-Type, Called/Calling-Station-Id,
        # NAS-Identifier, NAS-Port-Type, EAP-Message, Message-Authenticator
        for attr in (1, 4, 6, 30, 31, 32, 61, 79, 80):
            assert attr in r["attrs"], (attr, r)
    assert 24 not in access[0]["attrs"]          # no State in round 1
    assert 24 in access[1]["attrs"]              # State echoed in round 2
    assert access[1]["eap_parts"] == [253, 253, 94]  # 600 bytes split


def test_accounting_in_freeradius_detail_file(rig):
    recs = [r for r in rig["radius"].detail_records()
            if r.get("Acct-Session-Id") == rig["session"]]
    assert [r["Acct-Status-Type"] for r in recs] == ["Start", "Interim-Update", "Stop"], recs
    start, interim, stop = recs
    for r in recs:
        assert r["User-Name"] == "alice"
        assert r["Framed-IP-Address"] == "10.1.0.2"
        assert r["Class"] == "0x" + b"acme-class".hex()
        assert r["NAS-Port-Type"] == "Virtual"
        assert r["NAS-Identifier"] == "isthmus-test"
        assert r["Calling-Station-Id"] == "198.51.100.7:4500"
    assert "Acct-Input-Octets" not in start
    assert (interim["Acct-Input-Gigawords"], interim["Acct-Input-Octets"]) == ("5", "1000")
    assert (interim["Acct-Output-Gigawords"], interim["Acct-Output-Octets"]) == ("1", "7")
    assert (stop["Acct-Input-Gigawords"], stop["Acct-Input-Octets"]) == ("6", "1000")
    assert (stop["Acct-Output-Gigawords"], stop["Acct-Output-Octets"]) == ("2", "7")
    assert stop["Acct-Input-Packets"] == "12345"
    assert stop["Acct-Session-Time"] == "120"
    assert stop["Acct-Terminate-Cause"] == "User-Request"
    assert "Acct-Terminate-Cause" not in interim


def test_radcli_1_2_11_does_not_check_reply_message_authenticator(rig):
    """Why auth/ has its own packet code: Debian's radcli takes a forged
    Access-Accept (wrong Message-Authenticator) as OK."""
    probe = build("test_radius_radcli")
    out = subprocess.run([str(probe)], env=rig["env"], capture_output=True,
                         text=True, timeout=30)
    text = out.stdout + out.stderr
    assert "[  PASSED  ] 1 test(s)." in text, text[-3000:]
    assert "accepted (OK_RC)" in text
