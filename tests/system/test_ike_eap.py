"""strongSwan clients authenticate with EAP-MSCHAPv2 against the tenant's
RADIUS (FreeRADIUS) through isthmusd, with strongSwan's default proposals
and with chosen ones, directly and from behind a NAT, ten at once; a wrong
password and a disabled user are refused with one clear log line.

Everything is provisioned through the REST API (lib/vpn.py); the tests look
at what the user sees (charon's SA, virtual IP, resolv.conf) and what the
operator sees (the gateway's log)."""
import ipaddress
import re
import time

import pytest

from lib import topo as T
from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

POOL1 = ipaddress.ip_network(T.tenant_pool(1))


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("ike-eap"), tenants=1, clients=1,
                 nat_clients=1) as r:
        r.tenant(1, users={"alice": {}, "dave": {}, **{f"user{i}": {} for i in range(10)}})
        r.start_radius()
        r.wait_config()
        yield r


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


def connected_line(rig, start, who):
    """The gateway's line for who's connection: groups peer, address."""
    return rig.wait_log(rf"\[tenant=t1 session=\S+ peer=(\S+)\] '{re.escape(who)}' connected "
                        r"\(EAP\) with (\S+),", start=start)


def test_mschapv2_client_gets_first_address_dns_and_installed_sa(rig):
    mark = rig.mark()
    alice = rig.eap_client(1, "alice")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    # strongSwan's defaults (KE for Curve25519) are accepted as sent: no
    # INVALID_KE_PAYLOAD round trip.
    assert log.count("generating IKE_SA_INIT request") == 1, log

    sa = alice.sa()
    assert sa["state"] == "ESTABLISHED" and sa["remote_id"] == "vpn.t1.example"
    assert sa["dh_group"] == "CURVE_25519"
    assert sa["local_vips"] == [vpn.pool_addr(1, 2)], "the pool's first free address"
    child = sa["children"][0]
    assert child["installed"] and child["local_ts"] == ["10.1.128.2/32"]
    assert child["remote_ts"] == [T.tenant_net(1)]
    assert sorted(alice.dns_servers()) == vpn.tenant_dns(1)

    listing = alice.swanctl("--list-sas").stdout
    assert re.search(r"vpn: #\d+, ESTABLISHED, IKEv2", listing), listing
    assert re.search(r"net: #\d+, reqid \d+, INSTALLED, TUNNEL-in-UDP, ESP:", listing), listing
    assert "10.1.128.2/32" in listing

    # The tenant's RADIUS server was created with acct_port 0, which means no
    # accounting: FreeRADIUS records nothing for the session (a Start would
    # follow the CHILD_SA within milliseconds; give it a second).
    time.sleep(1.0)
    assert rig.radius.detail_records() == []

    assert connected_line(rig, mark, "alice").group(2) == "10.1.128.2"


@pytest.mark.parametrize("proposal, expect", [
    ("aes256gcm16-prfsha384-ecp384",
     {"encr_alg": "AES_GCM_16", "encr_keysize": 256, "prf_alg": "PRF_HMAC_SHA2_384",
      "dh_group": "ECP_384"}),
    ("aes256-sha256-modp2048",
     {"encr_alg": "AES_CBC", "encr_keysize": 256, "integ_alg": "HMAC_SHA2_256_128",
      "prf_alg": "PRF_HMAC_SHA2_256", "dh_group": "MODP_2048"}),
    ("chacha20poly1305-prfsha256-x25519",
     {"encr_alg": "CHACHA20_POLY1305", "prf_alg": "PRF_HMAC_SHA2_256",
      "dh_group": "CURVE_25519"}),
])
def test_mschapv2_client_with_chosen_proposal(rig, proposal, expect):
    alice = rig.eap_client(1, "alice", proposals=proposal)
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    sa = alice.sa()
    assert {k: sa.get(k) for k in expect} == expect
    assert sa["local_vips"] == [vpn.pool_addr(1, 2)]
    assert sorted(alice.dns_servers()) == vpn.tenant_dns(1)
    assert sa["children"][0]["installed"]


def test_wrong_password_is_refused_with_one_log_line_and_nothing_allocated(rig):
    mark = rig.mark()
    mallory = rig.eap_client(1, "alice", password="not-alices-password", name="mallory")
    ok, log = mallory.initiate("vpn", "net", timeout=15)
    assert not ok
    assert "received AUTHENTICATION_FAILED notify error" in log, log
    assert mallory.list_sas() == []

    rig.wait_log(r"authentication of 'alice' failed", start=mark)
    lines = [ln for ln in rig.log_since(mark).splitlines()
             if "alice" in ln and re.search(r" (notice|warn|error) ", ln)]
    assert len(lines) == 1, lines
    assert re.search(r"\[tenant=t1 .*peer=198\.51\.100\.10\[4500\]\] authentication of "
                     r"'alice' failed: RADIUS rejected it.* \(answered AUTHENTICATION_FAILED\)",
                     lines[0]), lines[0]
    assert "connected" not in rig.log_since(mark)
    rig.disconnect(mallory)

    # Nothing was kept for the failed attempt: the right password gets the
    # pool's first address.
    alice = rig.eap_client(1, "alice")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    assert alice.sa()["local_vips"] == [vpn.pool_addr(1, 2)]


def test_disabled_user_is_refused_with_a_log_line_saying_so(rig):
    rig.set_user(1, "dave", enabled=False)
    rig.wait_config()
    try:
        mark = rig.mark()
        dave = rig.eap_client(1, "dave")
        ok, log = dave.initiate("vpn", "net", timeout=15)
        assert not ok
        assert "received AUTHENTICATION_FAILED notify error" in log, log
        rig.wait_log(vpn.log_ctx(1) + r" authentication of 'dave' failed: the user is "
                     r"disabled \(answered AUTHENTICATION_FAILED\)", start=mark)
        assert "connected" not in rig.log_since(mark)
    finally:
        rig.set_user(1, "dave", enabled=True)
        rig.wait_config()
    rig.disconnect(dave)
    dave = rig.eap_client(1, "dave")
    ok, log = dave.initiate("vpn", "net", timeout=15)
    assert ok, log


def test_client_behind_nat_connects_and_moves_to_4500(rig):
    mark = rig.mark()
    alice = rig.eap_client(1, "alice", ns=rig.topo.nat_client_ns(0))
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    sa = alice.sa()
    assert sa["local_host"] == T.nat_client_addr(0)
    assert sa["nat_local"], "charon saw its own address translated (a real NAT)"
    assert (sa["local_port"], sa["remote_port"]) == (4500, 4500)
    assert sa["local_vips"] == [vpn.pool_addr(1, 2)]
    # The gateway sees the NAT's outside address, on a translated port,
    # first for IKE_SA_INIT and then on the client's NAT-T socket.
    m = rig.wait_log(r"peer moved from 198\.51\.100\.2\[(\d+)\] to 198\.51\.100\.2\[(\d+)\] "
                     r"\(NAT-T\)", start=mark)
    assert m.group(1) != m.group(2)
    assert connected_line(rig, mark, "alice").group(1) == f"198.51.100.2[{m.group(2)}]"


def test_ten_clients_connect_at_once_with_distinct_addresses(rig):
    mark = rig.mark()
    # Each vici initiate holds a charon worker thread until its CHILD_SA is
    # up: ten of them need more than charon's default 16 threads.
    many = rig.client("ten", settings={"threads": 48})
    for i in range(10):
        rig.add_eap(many, 1, f"user{i}", conn=f"u{i}", mobike=False)
    many.load()
    results = vpn.run_parallel([lambda i=i: many.initiate(f"u{i}", "net", timeout=20)
                                for i in range(10)], timeout=60)
    for i, r in enumerate(results):
        assert not isinstance(r, BaseException), r
        assert r.ok, f"u{i}: {r.log}"
    sas = many.established()
    assert len(sas) == 10
    vips = [s["local_vips"][0] for s in sas]
    assert len(set(vips)) == 10, vips
    assert all(ipaddress.ip_address(v) in POOL1 for v in vips)
    for i in range(10):
        connected_line(rig, mark, f"user{i}")
