"""Rekeying under traffic with a real strongSwan client.

- With a tenant policy whose CHILD_SA lifetime is 5 s, the gateway rekeys
  the client's CHILD_SA again and again while the client pings the tenant
  LAN every 100 ms for 60 s, and the client rekeys its IKE SA every ~12 s: at most
  one ping is lost, the session id stays, and the session's totals in
  /sessions count every ping across all rekeys.
"""
import re

import pytest

from lib import topo as T
from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("mob-rekey"), tenants=1, clients=1,
                 prefix="mb") as r:
        r.tenant(1, users={"alice": {}}, policy={"child_lifetime": 5})
        r.start_radius()
        r.wait_config()
        yield r


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


def session_of(rig, identity):
    items = rig.api.must("GET", "/api/v1/sessions").json["items"]
    mine = [s for s in items if s["identity"] == identity]
    assert len(mine) == 1, items
    return mine[0]


def ping_lost(out):
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    return int(m.group(1)) - int(m.group(2)), int(m.group(1))


def test_pings_survive_many_child_and_ike_rekeys(rig):
    mark = rig.mark()
    alice = rig.eap_client(1, "alice", rekey_time="12s", child_rekey_time="1h")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    ike_spi = alice.sa()["initiator_spi"]
    sid = session_of(rig, "alice")["id"]

    count = 600  # 60 s at 100 ms, as the issue asks
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=count,
                            interval=0.1, wait=1)
    lost, sent = ping_lost(out)
    assert sent == count and lost <= 1, out

    log = rig.log_since(mark)
    child_rekeys = len(re.findall(r"CHILD_SA [0-9a-f]{8}/[0-9a-f]{8} \S+ \(rekeyed by us\)", log))
    ike_rekeys = len(re.findall(r"IKE_SA rekeyed to", log))
    assert child_rekeys >= 4, log[-3000:]
    assert ike_rekeys >= 2, log[-3000:]
    assert "reached its hard lifetime" not in log

    # One session all along (the client's IKE SA was rekeyed, not redone).
    sa = alice.sa()
    assert sa["initiator_spi"] != ike_spi
    s = session_of(rig, "alice")
    assert s["id"] == sid
    assert s["child_sas"] and s["child_sas"][0]["rekeys"] >= child_rekeys
    # Every echo request went in and every reply out, whichever pair
    # carried it: the totals add up across the rekeys (2 pings before).
    received = sent - lost
    assert s["totals"]["packets_in"] >= sent, s["totals"]
    assert s["totals"]["packets_out"] >= received, s["totals"]
    assert s["totals"]["packets_in"] <= sent + 40, s["totals"]  # plus little else
