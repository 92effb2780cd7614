"""Several tenants behind one isthmusd: the client lands in the tenant whose
gateway identity it names, or whose realm its identity carries; a disabled
tenant is refused; a tenant whose RADIUS server is down fails its own
clients within the configured timeout without holding up another tenant's
client; a second RADIUS server takes over from a first one that is down.

Tenants (all provisioned through the API, see lib/vpn.py):
  t1  the usual one (FreeRADIUS)
  t2  "tenant B": realm b.example (FreeRADIUS)
  t3  its only RADIUS server is down and silent (packets dropped, no ICMP)
  t4  its first RADIUS server is not running, the second is FreeRADIUS
"""
import re

import pytest

from lib import topo as T
from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

DEAD_SILENT = 1913   # t3: dropped in the gateway namespace
DEAD_REFUSED = 1912  # t4's first server: nothing listens (port unreachable)
T3_TIMEOUT_MS, T3_RETRIES = 800, 2


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("ike-tenants"), tenants=4, clients=2) as r:
        r.tenant(1, users={"alice": {}})
        r.tenant(2, realms=["b.example"], users={"bob": {}})
        r.tenant(3, users={"alice": {}}, radius=[r.radius_body(
            "down", port=DEAD_SILENT, timeout_ms=T3_TIMEOUT_MS, retries=T3_RETRIES)])
        r.tenant(4, users={"carol": {}}, radius=[
            r.radius_body("first", port=DEAD_REFUSED, priority=10, timeout_ms=500, retries=1),
            r.radius_body("second", priority=20)])
        r.drop_udp(DEAD_SILENT)
        r.start_radius()
        r.wait_config()
        yield r


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


def test_client_naming_tenant_b_gateway_lands_in_b_with_b_pool(rig):
    mark = rig.mark()
    bob = rig.eap_client(2, "bob")  # IDr vpn.t2.example
    ok, log = bob.initiate("vpn", "net", timeout=15)
    assert ok, log
    sa = bob.sa()
    assert sa["remote_id"] == "vpn.t2.example"
    assert sa["local_vips"] == [vpn.pool_addr(2, 2)]
    assert sa["children"][0]["remote_ts"] == [T.tenant_net(2)]
    assert sorted(bob.dns_servers()) == vpn.tenant_dns(2)
    rig.wait_log(vpn.log_ctx(2) + r" 'bob' resolved to the tenant by gateway identity",
                 start=mark)
    rig.wait_log(vpn.log_ctx(2) + r" 'bob' connected \(EAP\) with 10\.2\.128\.2,", start=mark)


def test_user_of_realm_b_lands_in_b_without_naming_a_gateway(rig):
    mark = rig.mark()
    # remote id %any: the client sends no IDr and accepts the gateway's
    # identity as long as a CA it trusts vouches for it.
    bob = rig.eap_client(2, "bob@b.example", remote_id="%any")
    ok, log = bob.initiate("vpn", "net", timeout=15)
    assert ok, log
    sa = bob.sa()
    assert sa["remote_id"] == "vpn.t2.example", "the gateway answered as tenant B"
    assert sa["local_vips"] == [vpn.pool_addr(2, 2)]
    assert sorted(bob.dns_servers()) == vpn.tenant_dns(2)
    rig.wait_log(vpn.log_ctx(2) + r" 'bob@b\.example' resolved to the tenant by realm",
                 start=mark)
    rig.wait_log(vpn.log_ctx(2) + r" 'bob@b\.example' connected \(EAP\) with 10\.2\.128\.2,",
                 start=mark)


def test_disabled_tenant_is_refused_with_a_log_line_saying_so(rig):
    rig.set_tenant(2, enabled=False)
    rig.wait_config()
    try:
        mark = rig.mark()
        bob = rig.eap_client(2, "bob")
        ok, log = bob.initiate("vpn", "net", timeout=15)
        assert not ok
        assert "received AUTHENTICATION_FAILED notify error" in log, log
        rig.wait_log(vpn.log_ctx(2) + r" authentication of 'bob' failed: the tenant is "
                     r"disabled \(answered AUTHENTICATION_FAILED\)", start=mark)
        assert "connected" not in rig.log_since(mark)
    finally:
        rig.set_tenant(2, enabled=True)
        rig.wait_config()


def _when(line):
    return vpn.Rig._when(re.match(vpn.Rig._TS, line).group(1))


def test_radius_down_fails_in_time_while_another_tenant_connects(rig):
    mark = rig.mark()
    stuck = rig.eap_client(3, "alice", name="stuck", ns=rig.topo.client_ns(0))
    other = rig.eap_client(1, "alice", name="other", ns=rig.topo.client_ns(1))

    def other_after_stuck_started():
        # Start once t3's request is waiting on its dead RADIUS server.
        rig.wait_log(vpn.log_ctx(3) + r" IKE_SA HALF_OPEN -> EAP", start=mark)
        return other.initiate_timed(timeout=15)

    (s_ok, s_log, s_secs), (o_ok, o_log, o_secs) = vpn.run_parallel(
        [lambda: stuck.initiate_timed(timeout=20), other_after_stuck_started], timeout=40)

    assert o_ok, o_log
    assert other.sa()["local_vips"] == [vpn.pool_addr(1, 2)]
    assert not s_ok
    assert "received AUTHENTICATION_FAILED notify error" in s_log, s_log
    assert stuck.list_sas() == []

    text = rig.log_since(mark)
    began = next(ln for ln in text.splitlines()
                 if re.search(vpn.log_ctx(3) + r" IKE_SA HALF_OPEN -> EAP", ln))
    failed = [ln for ln in text.splitlines()
              if "[tenant=t3 " in ln and re.search(r" (notice|warn|error) ", ln)]
    assert len(failed) == 1, failed
    assert re.search(r"authentication of 'alice' failed: RADIUS server 127\.0\.0\.1:1913 did "
                     r"not answer \(answered AUTHENTICATION_FAILED\)", failed[0]), failed[0]
    connected = next(ln for ln in text.splitlines()
                     if re.search(vpn.log_ctx(1) + r" 'alice' connected", ln))
    budget = T3_TIMEOUT_MS * T3_RETRIES / 1000
    waited = _when(failed[0]) - _when(began)
    assert budget * 0.9 <= waited <= budget + 1.0, (waited, began, failed[0])
    # Tenant 1's client was done while tenant 3's was still waiting.
    assert _when(connected) < _when(failed[0]), (connected, failed[0])
    assert o_secs < 3.0, o_secs


def test_second_radius_server_takes_over_when_the_first_is_down(rig):
    mark = rig.mark()
    carol = rig.eap_client(4, "carol")
    ok, log, secs = carol.initiate_timed(timeout=15)
    assert ok, log
    assert carol.sa()["local_vips"] == [vpn.pool_addr(4, 2)]
    rig.wait_log(r"\[tenant=t4\] EAP for 'carol': accept \(Access-Accept from "
                 rf"127\.0\.0\.1:{vpn.RADIUS_AUTH_PORT}\)", start=mark)
    rig.wait_log(vpn.log_ctx(4) + r" 'carol' connected \(EAP\)", start=mark)
    # The operator sees why the first server was passed over.
    rig.wait_log(rf"RADIUS server 127\.0\.0\.1:{DEAD_REFUSED}: port unreachable", start=mark)
