"""A dual-stack client: a tenant whose policy has an IPv4 and an IPv6 pool
hands a strongSwan client that asks for both (vips 0.0.0.0 and ::) one
address of each, narrows its traffic selectors to both, and carries IPv6
inside the tunnel to the tenant's network."""
import ipaddress

import pytest

from lib import topo as T
from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

POOL6 = "fd00:1:128::/64"
NET6 = "fd00:1::/32"


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("ike-ipv6"), tenants=1, clients=1,
                 prefix="i6") as r:
        r.tenant(1, users={"alice": {}},
                 policy={"pools": [T.tenant_pool(1), POOL6],
                         "split_routes": [T.tenant_net(1), NET6]})
        r.start_radius()
        r.wait_config()
        yield r


def test_client_gets_an_ipv4_and_an_ipv6_address_and_reaches_ipv6(rig):
    mark = rig.mark()
    c = rig.client("alice")
    rig.add_eap(c, 1, "alice", vips=("0.0.0.0", "::"),
                remote_ts=[T.tenant_net(1), NET6])
    c.load()
    ok, log = c.initiate("vpn", "net", timeout=15)
    assert ok, log
    sa = c.sa()
    vips = sorted(sa["local_vips"], key=lambda a: ipaddress.ip_address(a).version)
    assert vips[0] == vpn.pool_addr(1, 2)
    v6 = ipaddress.ip_address(vips[1])
    assert v6.version == 6 and v6 in ipaddress.ip_network(POOL6)
    assert v6 == ipaddress.ip_network(POOL6).network_address + 2, "the pool's first free one"
    child = sa["children"][0]
    assert sorted(child["local_ts"]) == sorted([f"{vips[0]}/32", f"{v6}/128"])
    assert sorted(child["remote_ts"]) == sorted([T.tenant_net(1), NET6])
    rig.wait_log(rf"'alice' connected \(EAP\) with {vips[0]} {v6},", start=mark)

    # The gateway's own address in the IPv6 pool lives on the tenant's
    # device in the tenant's namespace: reaching it crosses the tunnel.
    gw6 = str(ipaddress.ip_network(POOL6).network_address + 1)
    ok, out = rig.topo.ping(rig.topo.client_ns(0), gw6, count=3)
    assert ok, out
    rig.disconnect(c)
