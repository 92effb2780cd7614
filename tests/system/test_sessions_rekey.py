"""Accounting and history follow a session across rekeys.

A strongSwan client rekeys its IKE SA every ~12 s while the gateway rekeys
the CHILD_SA every 5 s (the policy's lifetime) and the client pings the
tenant LAN; then the client disconnects. RADIUS sees one session: one
Start, Interim-Updates, one Stop (User-Request) under the same
Acct-Session-Id, whose counters hold every ping; the session history has
one row for it with the same totals.
"""
import re

import pytest

from lib import topo as T
from lib import vpn
from lib.proc import wait_for

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("sessions-rekey"), tenants=1, clients=1,
                 prefix="sr") as r:
        r.tenant(1, users={"alice": {}},
                 policy={"child_lifetime": 5, "acct_interim_interval": 5},
                 radius=[r.radius_body(acct_port=vpn.RADIUS_ACCT_PORT)])
        r.start_radius()
        r.wait_config()
        yield r


def test_one_accounting_session_and_history_row_across_rekeys(rig):
    mark = rig.mark()
    alice = rig.eap_client(1, "alice", rekey_time="12s", child_rekey_time="1h")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    [s] = rig.api.must("GET", "/api/v1/sessions?user=alice")["items"]
    sid = s["id"]

    count = 180  # 18 s at 100 ms
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=count,
                            interval=0.1, wait=1)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m and int(m.group(1)) == count, out
    received = int(m.group(2))
    log = rig.log_since(mark)
    assert len(re.findall(r"IKE_SA rekeyed to", log)) >= 1, log[-3000:]
    assert re.search(r"CHILD_SA \S+ \S+ \(rekeyed by us\)", log), log[-3000:]
    items = rig.api.must("GET", "/api/v1/sessions")["items"]
    assert [x["id"] for x in items] == [sid], (items, log[-4000:])

    assert alice.terminate("vpn", timeout=5)

    def stopped():
        recs = [r for r in rig.radius.detail_records() if r.get("Acct-Session-Id") == sid]
        return recs if recs and recs[-1]["Acct-Status-Type"] == "Stop" else None
    recs = wait_for(stopped, 10, interval=0.25, what="the accounting Stop")
    kinds = [r["Acct-Status-Type"] for r in recs]
    assert kinds.count("Start") == 1 and kinds.count("Stop") == 1, kinds
    assert kinds[0] == "Start" and "Interim-Update" in kinds, kinds
    stop = recs[-1]
    assert stop["Acct-Terminate-Cause"] == "User-Request"
    assert int(stop["Acct-Input-Packets"]) >= count
    assert int(stop["Acct-Output-Packets"]) >= received
    assert int(stop["Acct-Session-Time"]) >= 15

    def row():
        items = rig.api.must("GET", "/api/v1/tenants/t1/session-history")["items"]
        return [x for x in items if x["session_id"] == sid] or None
    [h] = wait_for(row, 5, interval=0.1, what="the session history row")
    assert h["cause"] == "user-request"
    assert h["totals"]["packets_in"] == int(stop["Acct-Input-Packets"])
    assert h["totals"]["bytes_in"] == int(stop["Acct-Input-Octets"])
