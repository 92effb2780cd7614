"""The system-test rig proves itself: strongSwan client -> strongSwan gateway.

Before isthmusd can answer, these tests show that the harness the Isthmus
tests use is right: a strongSwan client in its namespace authenticates to a
strongSwan gateway (kernel-libipsec, RSA-3072 certificate), gets a virtual
IP from the tenant pool, and reaches the tenant LAN host both ways with ping
and iperf3, directly and from behind an nft masquerade NAT; the client modes
the Isthmus tests need (EAP-MSCHAPv2, EAP-MD5, EAP-TLS, certificates, ten
connections in one charon, short CHILD_SA lifetimes) each come up.
"""
import ipaddress
import os
import shutil

import pytest

from lib import strongswan as sw
from lib import topo as T
from lib.strongswan import Charon, Pki

NEEDED_PLUGINS = ["kernel-libipsec", "vici", "eap-mschapv2", "eap-md5",
                  "eap-tls", "eap-identity", "x509", "pem"]


def _why_skip():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not sw.installed():
        return "strongSwan (charon, swanctl, pki) is not installed"
    missing = sw.missing_plugins(NEEDED_PLUGINS)
    if missing:
        return (f"strongSwan plugins missing: {missing} (libcharon-extra-plugins,"
                " libcharon-extauth-plugins)")
    for tool in ("iperf3", "nft", "ping", "unshare"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return None


pytestmark = pytest.mark.skipif(_why_skip() is not None,
                                reason=_why_skip() or "")

SECRET = "alice-secret-5f0c"
POOL = ipaddress.ip_network(T.tenant_pool(1))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = Pki(tmp_path_factory.mktemp("pki"))
    p.server(T.tenant_fqdn(1))  # RSA-3072, made once
    return p


def gateway(topo, pki, client_auth="eap-mschapv2", **kw):
    cert, key = pki.server(T.tenant_fqdn(1))
    gw = Charon(os.path.join(topo.workdir, "gw"), topo.gw, name="gw")
    gw.add_ca(pki.ca_cert)
    gw.add_gateway(local_addrs=T.GW_ADDR, server_id=T.tenant_fqdn(1),
                   cert=cert, key=key, client_auth=client_auth,
                   pool_addrs=[T.tenant_pool(1)],
                   local_ts=[T.tenant_net(1)], **kw)
    gw.add_eap_user("alice", SECRET)
    return gw


def client(topo, pki, ns, name="alice", **kw):
    c = Charon(os.path.join(topo.workdir, name), ns, name=name)
    c.add_ca(pki.ca_cert)
    kw.setdefault("identity", "alice")
    if kw.get("auth", "eap-mschapv2").startswith("eap-m"):
        kw.setdefault("secret", SECRET)
    c.add_client("home", remote_addr=T.GW_ADDR, remote_id=T.tenant_fqdn(1),
                 remote_ts=[T.tenant_net(1)], **kw)
    return c


@pytest.fixture
def rig(tmp_path):
    """A topology plus every charon started on it, all stopped at teardown."""
    built = {}

    def make(**topo_kw):
        built["topo"] = T.Topo(tmp_path, **topo_kw).__enter__()
        return built["topo"]

    charons = []
    yield make, charons
    for c in reversed(charons):
        c.stop()
    if "topo" in built:
        built["topo"].cleanup()


def start(charons, *cs):
    for c in cs:
        charons.append(c)
        c.start()
        c.load()


def only_sa(charon):
    sas = charon.list_sas()
    assert len(sas) == 1, sas
    return sas[0]


def test_eap_mschapv2_client_gets_vip_reaches_lan_and_terminates(rig, pki):
    make, charons = rig
    topo = make(clients=1, tenants=1)
    gw = gateway(topo, pki)
    alice = client(topo, pki, topo.client_ns(0))
    start(charons, gw, alice)

    ok, log = alice.initiate("home", "net", timeout=10)
    assert ok, log
    assert "EAP method EAP_MSCHAPV2 succeeded" in log

    sa = only_sa(alice)
    assert sa["state"] == "ESTABLISHED"
    assert sa["local_host"] == T.client_addr(0)
    assert sa["remote_host"] == T.GW_ADDR
    assert sa["remote_id"] == T.tenant_fqdn(1)
    # kernel-libipsec fakes a NAT, so IKE and ESP move to 4500
    assert sa["local_port"] == 4500 and sa["remote_port"] == 4500
    assert len(sa["local_vips"]) == 1
    vip = sa["local_vips"][0]
    assert ipaddress.ip_address(vip) in POOL
    (child,) = sa["children"]
    assert child["installed"] and child["udp_encap"]
    assert child["spi_in"] and child["spi_out"]
    assert child["local_ts"] == [f"{vip}/32"]
    assert child["remote_ts"] == [T.tenant_net(1)]

    gsa = only_sa(gw)
    assert gsa["remote_vips"] == [vip]
    # charon names the EAP identity only where it differs from the IKE one
    assert gsa.get("remote_eap_id", gsa["remote_id"]) == "alice"
    (gchild,) = gsa["children"]
    assert gchild["spi_in"] == child["spi_out"]
    assert gchild["spi_out"] == child["spi_in"]

    ok, out = topo.ping(topo.client_ns(0), T.lan_host(1))
    assert ok, out
    ok, out = topo.ping(topo.lan_ns(1), vip)
    assert ok, out

    topo.start_iperf_server(1)
    before = only_sa(alice)["children"][0]
    report = topo.iperf(topo.client_ns(0), T.lan_host(1), seconds=3)
    bps, nbytes, _ = T.iperf_summary(report)
    assert nbytes > 1_000_000 and bps > 1e6, report["end"]
    after = only_sa(alice)["children"][0]
    # what iperf3 moved went through this CHILD_SA
    assert after["bytes_out"] - before["bytes_out"] >= nbytes
    assert after["packets_out"] > before["packets_out"]

    assert alice.terminate("home")
    assert alice.list_sas() == []
    gw.wait_sa(lambda sas: sas == [], timeout=5, what="gateway SA deleted")
    assert ok_after_down(topo, vip) == (False, False)


def ok_after_down(topo, vip):
    """(client reaches LAN, LAN reaches vip) once the tunnel is gone."""
    a, _ = topo.ping(topo.client_ns(0), T.lan_host(1), count=1, wait=1)
    b, _ = topo.ping(topo.lan_ns(1), vip, count=1, wait=1)
    return a, b


def test_client_behind_nat_uses_4500_and_reaches_lan(rig, pki):
    make, charons = rig
    topo = make(clients=0, tenants=1, nat_clients=1)
    gw = gateway(topo, pki)
    alice = client(topo, pki, topo.nat_client_ns(0))
    start(charons, gw, alice)

    ok, log = alice.initiate("home", "net", timeout=10)
    assert ok, log
    sa = only_sa(alice)
    assert sa["local_host"] == T.nat_client_addr(0)
    assert sa["remote_port"] == 4500
    vip = sa["local_vips"][0]

    gsa = only_sa(gw)
    # the gateway sees the NAT's outside address and a translated port
    assert gsa["remote_host"] == T.NAT_OUT_ADDR
    assert gsa["local_port"] == 4500
    assert gsa["remote_port"] != 4500  # masquerade picks random ports
    assert gsa["nat_remote"]
    assert gsa["remote_vips"] == [vip]

    ok, out = topo.ping(topo.nat_client_ns(0), T.lan_host(1))
    assert ok, out
    ok, out = topo.ping(topo.lan_ns(1), vip)
    assert ok, out

    topo.start_iperf_server(1)
    report = topo.iperf(topo.nat_client_ns(0), T.lan_host(1), seconds=3)
    _, nbytes, _ = T.iperf_summary(report)
    assert nbytes > 1_000_000, report["end"]

    assert alice.terminate("home")
    gw.wait_sa(lambda sas: sas == [], timeout=5, what="gateway SA deleted")


@pytest.mark.parametrize("auth", ["eap-md5", "eap-tls", "pubkey"])
def test_client_auth_modes(rig, pki, auth):
    make, charons = rig
    topo = make(clients=1, tenants=1)
    gw = gateway(topo, pki, client_auth=auth)
    kw = {"auth": auth, "identity": "alice"}
    if auth in ("eap-tls", "pubkey"):
        ident = "carol@t1.example"
        cert, key = pki.client(ident)
        kw.update(identity=ident, cert=cert, key=key)
    alice = client(topo, pki, topo.client_ns(0), **kw)
    start(charons, gw, alice)

    ok, log = alice.initiate("home", "net", timeout=10)
    assert ok, log
    sa = only_sa(alice)
    assert sa["state"] == "ESTABLISHED"
    vip = sa["local_vips"][0]
    assert ipaddress.ip_address(vip) in POOL
    gsa = only_sa(gw)
    assert gsa["remote_id"] == kw["identity"]
    ok, out = topo.ping(topo.lan_ns(1), vip)
    assert ok, out


def test_ten_connections_in_one_charon_with_chosen_algorithms(rig, pki):
    make, charons = rig
    topo = make(clients=1, tenants=1)
    gw = gateway(topo, pki)
    c = Charon(os.path.join(topo.workdir, "ten"), topo.client_ns(0), name="ten")
    c.add_ca(pki.ca_cert)
    for i in range(10):
        gw.add_eap_user(f"user{i}", f"{SECRET}-{i}")
        c.add_client(f"u{i}", remote_addr=T.GW_ADDR,
                     remote_id=T.tenant_fqdn(1), identity=f"user{i}",
                     secret=f"{SECRET}-{i}", remote_ts=[T.tenant_net(1)],
                     proposals="aes256-sha384-curve25519",
                     esp_proposals="aes256gcm16", mobike=False)
    start(charons, gw, c)
    for i in range(10):
        ok, log = c.initiate(f"u{i}", "net", timeout=10)
        assert ok, log
    sas = c.established()
    assert len(sas) == 10
    vips = {s["local_vips"][0] for s in sas}
    assert len(vips) == 10
    for s in sas:
        assert (s["encr_alg"], s["encr_keysize"]) == ("AES_CBC", 256)
        assert s["integ_alg"] == "HMAC_SHA2_384_192"
        assert s["dh_group"] == "CURVE_25519"
        assert s["children"][0]["encr_alg"] == "AES_GCM_16"
        assert s["children"][0]["encr_keysize"] == 256
    assert len(gw.established()) == 10
    for vip in sorted(vips)[:3]:
        ok, out = topo.ping(topo.lan_ns(1), vip, count=1)
        assert ok, out


def test_short_child_lifetime_rekeys_to_new_spi(rig, pki):
    make, charons = rig
    topo = make(clients=1, tenants=1)
    gw = gateway(topo, pki)
    alice = client(topo, pki, topo.client_ns(0), child_rekey_time="3s",
                   child_life_time="20s", child_rand_time="0s")
    start(charons, gw, alice)
    ok, log = alice.initiate("home", "net", timeout=10)
    assert ok, log
    first = only_sa(alice)["children"][0]["spi_in"]
    mark = alice.log_size()
    alice.wait_log(r"CHILD_SA net\{\d+\} established", timeout=10, start=mark)
    spis = alice.wait_sa(
        lambda sas: [c["spi_in"] for s in sas for c in s["children"]
                     if c["installed"] and c["spi_in"] != first],
        timeout=5, what="a CHILD_SA with a new SPI")
    assert spis
    vip = only_sa(alice)["local_vips"][0]
    ok, out = topo.ping(topo.lan_ns(1), vip)
    assert ok, out


def test_gateway_relays_eap_mschapv2_to_freeradius_with_accounting(rig, pki):
    from lib.freeradius import FreeRadius, User
    if not os.access("/usr/sbin/freeradius", os.X_OK):
        pytest.skip("FreeRADIUS is not installed")
    make, charons = rig
    topo = make(clients=1, tenants=1)
    radius = FreeRadius(os.path.join(topo.workdir, "radius"), "radius-s3cret",
                        {"alice": User(SECRET)}, netns=topo.gw,
                        default_eap_type="mschapv2")
    radius.start()
    try:
        gw = gateway(topo, pki, client_auth="eap-radius")
        gw.secrets.clear()  # the gateway itself knows no user
        gw.set_radius("127.0.0.1", "radius-s3cret", port=radius.auth_port,
                      acct_port=radius.acct_port, accounting=True)
        alice = client(topo, pki, topo.client_ns(0))
        start(charons, gw, alice)

        ok, log = alice.initiate("home", "net", timeout=10)
        assert ok, log
        assert "EAP method EAP_MSCHAPV2 succeeded, MSK established" in log
        gw.wait_log(r"RADIUS authentication of 'alice' successful")
        vip = only_sa(alice)["local_vips"][0]
        ok, out = topo.ping(topo.lan_ns(1), vip)
        assert ok, out

        assert alice.terminate("home")
        gw.wait_sa(lambda sas: sas == [], timeout=5, what="gateway SA deleted")
        recs = wait_records(radius, lambda r: any(
            x.get("Acct-Status-Type") == "Stop" for x in r))
        start_rec = next(x for x in recs if x.get("Acct-Status-Type") == "Start")
        assert start_rec["User-Name"] == "alice"
        assert start_rec["Framed-IP-Address"] == vip
    finally:
        radius.stop()


def wait_records(radius, pred, timeout=5.0):
    from lib.proc import wait_for
    return wait_for(lambda: pred(radius.detail_records()) and
                    radius.detail_records(), timeout, what="accounting records")
