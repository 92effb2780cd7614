"""Both ends rekey the CHILD_SA at the same moment (RFC 7296 2.8.1).

Round trips on veth are far below a millisecond and the kernel has no
netem, so two rekey requests would hardly ever cross. Here the client
talks to the gateway through a userspace UDP relay on the WAN
(lib/udprelay.py) that holds every datagram, IKE and ESP, for 500 ms each
way. The gateway's policy gives CHILD_SAs 10 s (it rekeys at 8-9 s after
install, random), the client rekeys 8 s after it installed (which is
0.5 s after the gateway did): whichever moment the gateway picks, each
side's CREATE_CHILD_SA is still unanswered when the other's arrives. The
lowest nonce decides which of the two new pairs is redundant; it is
deleted, one pair survives on both ends (the same SPIs), and pings keep
going through the tunnel.
"""
import re
import threading
import time

import pytest

from lib import topo as T
from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

DELAY = 0.5


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("mob-collide"), tenants=1, clients=1,
                 prefix="m2", relay=True) as r:
        r.tenant(1, users={"alice": {}}, policy={"child_lifetime": 10})
        r.start_radius()
        r.wait_config()
        r.topo.start_relay(DELAY)
        yield r


def installed(c):
    sa = c.sa()
    return [ch for ch in (sa["children"] if sa else []) if ch["installed"]]


def test_simultaneous_child_rekeys_leave_one_pair_and_traffic_flows(rig):
    mark = rig.mark()
    alice = rig.client("alice")
    rig.add_eap(alice, 1, "alice", remote_addr=T.RELAY_ADDR, rekey_time="1h",
                child_rekey_time="8s", child_life_time="60s", child_rand_time="0s")
    alice.load()
    ok, log = alice.initiate("vpn", "net", timeout=30)
    assert ok, log
    # The gateway sees the relay as the client.
    rig.wait_log(rf"'alice' connected", start=mark)
    assert f"peer={T.RELAY_ADDR}[" in rig.log_since(mark)

    result = {}

    def pings():  # about 24 s: across the first collision and beyond
        result["ping"] = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=80,
                                       interval=0.3, wait=3)
    th = threading.Thread(target=pings, daemon=True)
    th.start()

    rig.wait_log(r"CHILD_SA rekey collision: the client rekeyed [0-9a-f]{8} too", start=mark,
                 timeout=20)
    verdict = rig.wait_log(r"CHILD_SA rekey collision: (ours wins|ours \([0-9a-f]{8}\) is "
                           r"redundant, the client's stays)", start=mark, timeout=10)
    alice.wait_log(r"(?i)CHILD_SA rekey collision (won|lost)", timeout=10)

    # Once the redundant pair and the old one are deleted (a few round
    # trips), one pair is left, the same on both ends.
    def settled():
        mine = installed(alice)
        if len(mine) != 1:
            return None
        s = [s for s in rig.api.must("GET", "/api/v1/sessions").json["items"]
             if s["identity"] == "alice"]
        if len(s) != 1 or not s[0]["child_sas"]:
            return None
        g = s[0]["child_sas"][0]
        if (int(g["spi_in"], 16), int(g["spi_out"], 16)) != (mine[0]["spi_out"],
                                                             mine[0]["spi_in"]):
            return None
        return mine[0], g
    alice.wait_sa(lambda _: settled(), timeout=6, what="one CHILD_SA pair on both ends")

    th.join(40)
    assert not th.is_alive()
    ok, out = result["ping"]
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    sent, received = int(m.group(1)), int(m.group(2))
    print(f"pings: {sent} sent, {received} received")
    assert sent == 80 and sent - received <= 1, out
    # The tunnel still carries traffic after it all.
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=3, wait=3)
    assert ok, out

    log = rig.log_since(mark)
    assert "hard lifetime" not in log and "ending the session" not in log, log[-3000:]
    assert verdict
    rig.disconnect(alice)
