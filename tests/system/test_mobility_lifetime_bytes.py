"""CHILD_SA lifetimes by traffic, from the policy, with a real strongSwan
client: a policy whose CHILD_SAs may carry 300 kB each way (the client has
no traffic limit of its own, the time lifetime is an hour) makes the
gateway rekey the CHILD_SA when the data plane reports the soft limit
(85-95 % of it) while the client pings the tenant LAN with 1200-byte
packets every 10 ms; the pings keep flowing and the session stays one.
The policy's fields go through the API like any other."""
import re

import pytest

from lib import topo as T
from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

LIMIT = 300_000


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("mob-life"), tenants=1, clients=1,
                 prefix="m2") as r:
        r.tenant(1, users={"alice": {}},
                 policy={"child_lifetime": 3600, "child_lifetime_bytes": LIMIT})
        r.start_radius()
        r.wait_config()
        yield r


def test_policy_traffic_lifetimes_through_the_api(rig):
    pol = rig.api.must("GET", "/api/v1/tenants/t1/policies/default").json
    assert pol["child_lifetime_bytes"] == LIMIT
    assert pol["child_lifetime_packets"] == 0
    bad = rig.api.request("PATCH", "/api/v1/tenants/t1/policies/default",
                          {"child_lifetime_packets": -1})
    assert bad.status == 400


def test_gateway_rekeys_at_the_byte_limit_and_traffic_flows(rig):
    mark = rig.mark()
    alice = rig.eap_client(1, "alice", child_rekey_time="1h")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    first_spi = alice.sa()["children"][0]["spi_in"]
    sid = [s for s in rig.api.must("GET", "/api/v1/sessions").json["items"]
           if s["identity"] == "alice"][0]["id"]

    count = 800  # ~1 MB each way: about three limits' worth
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=count,
                            interval=0.01, wait=1, size=1200)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    sent, received = int(m.group(1)), int(m.group(2))
    assert sent == count and sent - received <= 2, out

    log = rig.log_since(mark)
    soft = re.findall(r"rekeying CHILD_SA [0-9a-f]{8}/[0-9a-f]{8} \(soft traffic limit", log)
    ours = re.findall(r"CHILD_SA [0-9a-f]{8}/[0-9a-f]{8} \S+ \(rekeyed by us\)", log)
    assert len(soft) >= 2, log[-3000:]
    assert len(ours) >= 2, log[-3000:]
    assert "hard traffic limit" not in log
    assert "hard lifetime" not in log

    # The client sees new SPIs; the session is the same one throughout.
    assert alice.sa()["children"][0]["spi_in"] != first_spi
    s = [s for s in rig.api.must("GET", "/api/v1/sessions").json["items"]
         if s["identity"] == "alice"]
    assert len(s) == 1 and s[0]["id"] == sid
    assert s[0]["child_sas"][0]["rekeys"] >= 2
    assert s[0]["totals"]["packets_in"] >= sent
    rig.disconnect(alice)
