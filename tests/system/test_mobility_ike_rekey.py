"""IKE_SA lifetimes the gateway enforces, with a real strongSwan client.

- Rekey: with a policy ike_lifetime of 8 s (the client's own IKE rekey an
  hour away), the gateway rekeys the IKE SA itself (CREATE_CHILD_SA with
  its new SPI, Ni and KEi) at 80-90 % of it, again and again: the client
  follows (new IKE SPIs on its side), the CHILD_SA moves with the session,
  pings keep flowing and the session id stays.
- Reauthentication: with a policy reauth_interval of 12 s the IKE_AUTH
  answer carries AUTH_LIFETIME; the client (make-before-break) builds a new
  IKE SA before then, FreeRADIUS is asked again, the old session goes and
  the tunnel keeps working.
"""
import re
import time

import pytest

from lib import topo as T
from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("mob-ikerekey"), tenants=1, clients=1,
                 prefix="m2") as r:
        r.tenant(1, users={"alice": {}})
        r.start_radius()
        r.wait_config()
        yield r


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


def sessions(rig, identity="alice"):
    return [s for s in rig.api.must("GET", "/api/v1/sessions").json["items"]
            if s["identity"] == identity]


def ping_counts(out):
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def test_gateway_rekeys_the_ike_sa_and_the_session_goes_on(rig):
    rig.set_policy(1, ike_lifetime=8, reauth_interval=0)
    rig.wait_config()
    mark = rig.mark()
    alice = rig.eap_client(1, "alice", rekey_time="1h", child_rekey_time="1h")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    first = alice.sa()
    sid = sessions(rig)[0]["id"]

    count = 200  # 20 s: at least two rekeys at 6.4-7.2 s each
    sent, received = ping_counts(rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1),
                                               count=count, interval=0.1, wait=1)[1])
    assert sent == count and sent - received <= 1

    log = rig.log_since(mark)
    ours = re.findall(r"rekeying IKE_SA \(soft lifetime\)", log)
    done = re.findall(r"IKE_SA rekeyed to [0-9a-f]{16}_i [0-9a-f]{16}_r", log)
    assert len(ours) >= 2 and len(done) >= 2, log[-3000:]
    assert len(re.findall(r"IKE_SA \S+ -> DEAD: our Delete was answered", log)) >= 2, log[-3000:]
    assert "ending the session" not in log

    # The client took part: it has a new IKE SA (SPIs) for the same tunnel
    # and was not the one that rekeyed.
    sa = alice.sa()
    assert sa["initiator_spi"] != first["initiator_spi"]
    assert sa["local_vips"] == first["local_vips"]
    assert re.search(r"(?i)rekeying.*IKE_SA|IKE_SA .*rekeyed", alice.log())
    s = sessions(rig)
    assert len(s) == 1 and s[0]["id"] == sid
    assert s[0]["totals"]["packets_in"] >= sent
    # And the rekeyed SA still carries IKE both ways: a liveness check the
    # client answers, a Delete at the end.
    rig.disconnect(alice)
    rig.wait_log(r"the client deleted the IKE_SA", start=mark)


def test_reauthentication_asks_radius_again_and_the_tunnel_stays(rig):
    rig.set_policy(1, ike_lifetime=14400, reauth_interval=12)
    rig.wait_config()
    mark = rig.mark()
    alice = rig.client("alice", settings={"make_before_break": True})
    rig.add_eap(alice, 1, "alice", rekey_time="1h", over_time="4s", rand_time="0s",
                child_rekey_time="1h")
    alice.load()
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    first = alice.sa()
    sid = sessions(rig)[0]["id"]
    alice.wait_log(r"received AUTH_LIFETIME of 1[12]s, scheduling reauthentication in [78]s",
                   timeout=5)

    # A new IKE SA, authenticated again through RADIUS, before the deadline.
    rig.wait_log(r"(?s)'alice' connected.*'alice' connected", start=mark, timeout=20)
    new = alice.wait_sa(lambda sas: next((s for s in sas if s.get("state") == "ESTABLISHED"
                                          and s["initiator_spi"] != first["initiator_spi"]
                                          and any(c["installed"] for c in s["children"])),
                                         None), timeout=10, what="the reauthenticated IKE SA")
    # Make-before-break: the client deletes the old IKE SA afterwards.
    rig.wait_log(r"the client deleted the IKE_SA", start=mark, timeout=10)
    log = rig.log_since(mark)
    assert len(re.findall(r"'alice' connected", log)) == 2, log[-3000:]
    # RADIUS was consulted again: two EAP conversations ended in Access-Accept.
    assert len(re.findall(r"radius +\[tenant=t1\] EAP for 'alice': accept \(Access-Accept",
                          log)) == 2, log[-3000:]
    assert "did not reauthenticate" not in log
    s = sessions(rig)
    assert len(s) == 1 and s[0]["id"] != sid
    ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=5, interval=0.2)
    assert ok, out
    assert new["local_vips"]
