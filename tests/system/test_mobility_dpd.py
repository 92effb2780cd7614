"""A client that vanishes (its charon killed with SIGKILL: no Delete, no
more packets) is found dead by the gateway's liveness checks within the
configured time: the session ends with a log line saying so, its address
goes back to the pool, and RADIUS accounting gets a Stop (Lost-Carrier)."""
import signal
import time

import pytest

from lib import vpn
from lib.proc import wait_for

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

# Liveness check after 2 s of silence; 2 retransmissions, 0.5 s then 0.9 s,
# then 1.6 s more before giving up: dead within about 7 s.
DPD = {"ike": {"dpd_delay": 2, "retransmit_timeout": 500, "retransmit_tries": 2}}
DEADLINE_S = 12


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("dpd"), tenants=1, clients=1,
                 isthmusd_config=DPD, prefix="dpd") as r:
        r.tenant(1, users={"alice": {}},
                 radius=[r.radius_body(acct_port=vpn.RADIUS_ACCT_PORT)])
        r.start_radius()
        r.wait_config()
        yield r


def test_killed_client_is_found_dead_and_its_address_freed(rig):
    mark = rig.mark()
    alice = rig.eap_client(1, "alice")
    assert alice.initiate("vpn", "net", timeout=15).ok
    assert alice.sa()["local_vips"] == [vpn.pool_addr(1, 2)]
    m = rig.wait_log(r"\[tenant=t1 session=(\S+) peer=\S+\] 'alice' connected", start=mark)
    session = m.group(1)
    wait_for(lambda: any(r.get("Acct-Status-Type") == "Start"
                         for r in rig.radius.detail_records()), 10, what="accounting Start")

    alice.proc.signal(signal.SIGKILL)
    killed = time.monotonic()
    rig.wait_log(rf"\[tenant=t1 session={session} peer=\S+\] IKE_SA ESTABLISHED -> DEAD: "
                 r"dead peer: it did not answer our liveness checks", start=mark,
                 timeout=DEADLINE_S)
    assert time.monotonic() - killed < DEADLINE_S
    alice.stop()

    stop = wait_for(lambda: [r for r in rig.radius.detail_records()
                             if r.get("Acct-Status-Type") == "Stop"], 10,
                    what="accounting Stop")
    assert stop[-1].get("Acct-Terminate-Cause") == "Lost-Carrier", stop[-1]
    assert stop[-1].get("User-Name") == "alice"

    # The address is free again: the next client gets it.
    again = rig.eap_client(1, "alice", name="again")
    assert again.initiate("vpn", "net", timeout=15).ok
    assert again.sa()["local_vips"] == [vpn.pool_addr(1, 2)]
    rig.disconnect(again)
