"""Drain for maintenance (RFC 5685 redirect), driven through the API: while
the operator drains the gateway, a new strongSwan client gets REDIRECT to
the configured gateway in answer to IKE_SA_INIT (no IKE SA is made here),
follows it to the second gateway (another isthmusd on the WAN at
198.51.100.3, provisioned with the same tenant through its own API) and
connects there: its tunnel reaches the tenant LAN behind that gateway.
After DELETE /drain clients connect to the first gateway again."""
import re

import pytest

from lib import topo as T
from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

OTHER_GW = T.GW2_ADDR


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("mob-drain"), tenants=1, clients=1,
                 prefix="m2", second_gateway=True) as r:
        r.tenant(1, users={"alice": {}})
        r.tenant(1, users={"alice": {}}, gateway=2)
        r.start_radius()
        r.wait_config()
        r.wait_config(gw=r.gw2)
        yield r


def test_drain_redirects_new_clients_to_second_gateway_then_undrain(rig):
    assert rig.api.must("GET", "/api/v1/drain").json == {"draining": False,
                                                        "redirect_to": None}
    bad = rig.api.request("POST", "/api/v1/drain", {"redirect_to": "a b"})
    assert bad.status == 400
    r = rig.api.must("POST", "/api/v1/drain", {"redirect_to": OTHER_GW}).json
    assert r == {"draining": True, "redirect_to": OTHER_GW}

    mark, mark2 = rig.mark(), rig.gw2.log_size()
    alice = rig.eap_client(1, "alice")
    alice.initiate("vpn", "net", timeout=15)
    rig.wait_log(rf"draining: new client redirected to {re.escape(OTHER_GW)}", start=mark)
    # The client followed the redirect and connected to the second gateway.
    alice.wait_log(rf"(redirect|REDIRECT).*{re.escape(OTHER_GW)}", timeout=10)
    rig.gw2.wait_log(r"'alice' connected", timeout=15, start=mark2)
    sa = alice.wait_sa(lambda sas: next((s for s in sas if s.get("state") == "ESTABLISHED"
                                         and s.get("remote_host") == OTHER_GW), None),
                       timeout=10, what="an IKE SA with the second gateway")
    assert sa["local_vips"] == [vpn.pool_addr(1, 2)]
    assert "'alice' connected" not in rig.log_since(mark)
    # Its tunnel ends at the second gateway: the LAN address answers there.
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=3)
    assert ok, out
    rig.disconnect(alice)

    rig.api.must("DELETE", "/api/v1/drain", status=204)
    mark = rig.mark()
    alice = rig.eap_client(1, "alice", name="alice2")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    assert alice.sa()["remote_host"] == T.GW_ADDR
    rig.wait_log(r"'alice' connected", start=mark)
    rig.disconnect(alice)
