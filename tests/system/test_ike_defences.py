"""The gateway defends itself against half-open floods: above the cookie
threshold it demands a COOKIE before it does any Diffie-Hellman work, and a
client that never finishes IKE_AUTH is forgotten after half_open_timeout.
A real strongSwan client still connects through the cookie round trip."""
import subprocess

import pytest

from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    # Threshold 0: every IKE_SA_INIT must come back with a cookie.
    cfg = {"ike": {"cookie_threshold": 0, "half_open_timeout": 2}}
    with vpn.Rig(tmp_path_factory.mktemp("ike-defences"), tenants=1, clients=1,
                 isthmusd_config=cfg, prefix="idf") as r:
        r.tenant(1, users={"alice": {}})
        r.start_radius()
        r.wait_config()
        yield r


def nft(rig, script):
    subprocess.run(["ip", "netns", "exec", rig.topo.gw, "nft", "-f", "-"], input=script,
                   text=True, check=True, capture_output=True, timeout=20)


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


def test_client_answers_the_cookie_and_connects(rig):
    mark = rig.mark()
    alice = rig.eap_client(1, "alice")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    # The first answer was a COOKIE; the client sent IKE_SA_INIT again with it.
    assert "N(COOKIE)" in log, log
    assert alice.sa()["local_vips"] == [vpn.pool_addr(1, 2)]
    rig.wait_log(r"'alice' connected \(EAP\)", start=mark)


def test_half_open_sa_that_never_authenticates_expires(rig):
    mark = rig.mark()
    # IKE_AUTH (UDP 4500 to the gateway) never arrives: the SA stays half-open.
    nft(rig, "table inet idfdrop {\n chain input {\n"
             "  type filter hook input priority filter; policy accept;\n"
             "  udp dport 4500 drop\n }\n}\n")
    try:
        alice = rig.eap_client(1, "alice")
        ok, _ = alice.initiate("vpn", "net", timeout=4)
        assert not ok
        m = rig.wait_log(r"\[session=(\S+) peer=\S+\] IKE_SA HALF_OPEN -> DEAD: half-open "
                         r"IKE_SA expired: no IKE_AUTH in time", start=mark, timeout=10)
        assert m
    finally:
        nft(rig, "delete table inet idfdrop\n")
