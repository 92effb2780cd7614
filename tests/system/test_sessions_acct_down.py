"""A dead accounting server never blocks anything.

The tenant's RADIUS server answers authentication (FreeRADIUS) but nothing
answers on its accounting port. Five users connect and four of them leave:
nine accounting records (Start, Stop) wait on the dead port, each for its
whole timeout x retries. Meanwhile a sixth user still logs in within
seconds, the API answers at once, and the metrics count the accounting
timeouts and the records that were never acknowledged.
"""
import os
import time
from pathlib import Path

import pytest

from lib import topo as T
from lib import vpn
from lib.proc import wait_for

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

DEAD_ACCT_PORT = 1913  # a RADIUS server that never answers (fake_radius.py --mode silent)
FAKE = Path(__file__).resolve().parent / "radius" / "fake_radius.py"
TIMEOUT_MS, RETRIES = 1000, 4
USERS = [f"user{i}" for i in range(6)]


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("sessions-acct-down"), tenants=1, clients=1,
                 prefix="sa") as r:
        r.tenant(1, users={u: {} for u in USERS},
                 radius=[r.radius_body(acct_port=DEAD_ACCT_PORT, timeout_ms=TIMEOUT_MS,
                                       retries=RETRIES)])
        r.start_radius()
        silent = r.procs.start(["/usr/bin/python3", str(FAKE), "--port", str(DEAD_ACCT_PORT),
                                "--secret", vpn.RADIUS_SECRET, "--mode", "silent",
                                "--lifetime", "600"],
                               os.path.join(r.workdir, "silent-acct.log"), netns=r.topo.gw)
        silent.wait_log(r"ready", timeout=10)
        r.wait_config()
        yield r


def test_logins_and_api_go_on_while_accounting_waits_on_a_dead_server(rig):
    c = rig.client("multi")
    for u in USERS:
        rig.add_eap(c, 1, u, conn=f"vpn-{u}")
    c.load()
    for u in USERS[:5]:
        ok, log = c.initiate(f"vpn-{u}", "net", timeout=15)
        assert ok, log
    for u in USERS[:4]:
        assert c.terminate(f"vpn-{u}", timeout=5)
    # Five Starts and four Stops now wait on the dead port (4 s each).

    ok, log, secs = c.initiate_timed(f"vpn-{USERS[5]}", "net", timeout=15)
    assert ok, log
    assert secs < 2.0, secs  # sharing the threads with accounting: over 4 s

    t0 = time.monotonic()
    items = rig.api.must("GET", "/api/v1/sessions")["items"]
    assert time.monotonic() - t0 < 1.0
    assert sorted(s["identity"] for s in items) == [USERS[4], USERS[5]]

    server = f"127.0.0.1:{DEAD_ACCT_PORT}"

    def failed():
        text = rig.api.must("GET", "/metrics").text
        for line in text.splitlines():
            if line.startswith("isthmus_radius_accounting_records_total{tenant=\"t1\","
                               "result=\"failed\"}"):
                return float(line.split()[-1]) >= 9 and text
        return None
    text = wait_for(failed, 30, interval=0.5, what="nine unacknowledged accounting records")
    tries = [ln for ln in text.splitlines()
             if ln.startswith("isthmus_radius_requests_total{") and server in ln
             and 'kind="acct"' in ln]
    assert tries and float(tries[0].split()[-1]) >= 9, tries
    unanswered = sum(float(ln.split()[-1]) for ln in text.splitlines()
                     if (ln.startswith("isthmus_radius_timeouts_total{")
                         or ln.startswith("isthmus_radius_errors_total{"))
                     and server in ln)
    assert unanswered >= 9
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=2)
    assert ok, out
