"""Certificates made by the tenant CA through the API: EAP-TLS with a user
certificate that FreeRADIUS checks, a client certificate with no EAP at all
(checked by isthmusd against the tenant CA and its revocations), and an
RSA-3072 gateway certificate whose IKE_AUTH answer goes out as RFC 7383
fragments.

Tenants: t1 has an ECDSA P-256 gateway certificate and its CA is trusted by
FreeRADIUS; t2 has an RSA-3072 gateway certificate and FreeRADIUS does not
trust its CA."""
import re

import pytest

from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("ike-certs"), tenants=2, clients=1) as r:
        r.tenant(1, users={"erin": {}, "frank": {"auth": "certificate"},
                           "grace": {"auth": "certificate"}})
        r.tenant(2, server_key="rsa-3072", users={"alice": {}, "ivan": {}})
        # After the tenants: FreeRADIUS trusts t1's CA only, and its EAP-TLS
        # certificate names t1's gateway (what the clients check).
        r.start_radius(trust=[1], tls_server_id=r.tenants[1].fqdn)
        r.wait_config()
        yield r


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


def test_eap_tls_user_certificate_checked_by_freeradius(rig):
    _, cert, key = rig.client_cert(1, "erin")
    mark = rig.mark()
    erin = rig.client("erin")
    rig.add_eap_tls(erin, 1, "erin@t1.example", cert, key)
    erin.load()
    ok, log = erin.initiate("vpn", "net", timeout=15)
    assert ok, log
    assert "EAP method EAP_TLS succeeded, MSK established" in log, log
    sa = erin.sa()
    assert sa["local_vips"] == [vpn.pool_addr(1, 2)]
    assert sorted(erin.dns_servers()) == vpn.tenant_dns(1)
    rig.wait_log(r"\[tenant=t1\] EAP for 'erin@t1\.example': accept", start=mark)
    rig.wait_log(vpn.log_ctx(1) + r" 'erin@t1\.example' connected \(EAP\) with 10\.1\.128\.2,",
                 start=mark)


def test_eap_tls_certificate_freeradius_does_not_trust_is_rejected(rig):
    # A valid certificate of tenant 2, whose CA FreeRADIUS does not trust.
    _, cert, key = rig.client_cert(2, "ivan")
    mark = rig.mark()
    ivan = rig.client("ivan")
    rig.add_eap_tls(ivan, 1, "ivan@t2.example", cert, key)
    ivan.load()
    ok, log = ivan.initiate("vpn", "net", timeout=15)
    assert not ok
    assert "received AUTHENTICATION_FAILED notify error" in log or \
        "EAP method EAP_TLS failed" in log, log
    rig.wait_log(vpn.log_ctx(1) + r" authentication of 'ivan@t2\.example' failed: RADIUS "
                 r"rejected it", start=mark)
    assert "connected" not in rig.log_since(mark)


def test_client_certificate_of_the_tenant_ca_without_eap(rig):
    info, cert, key = rig.client_cert(1, "frank")
    assert info["user"] == "frank" and info["kind"] == "client"
    mark = rig.mark()
    frank = rig.client("frank")
    rig.add_cert(frank, 1, "frank@t1.example", cert, key)
    frank.load()
    ok, log = frank.initiate("vpn", "net", timeout=15)
    assert ok, log
    # One IKE_AUTH round trip, no EAP payload at all.
    assert re.search(r"parsed IKE_AUTH response 1 \[ IDr CERT AUTH CPRP\(.*\) SA TSi TSr[ \]]", log), \
        log
    assert not re.search(r"EAP/(REQ|RES)", log), log
    sa = frank.sa()
    assert sa["local_id"] == "frank@t1.example"
    assert sa["local_vips"] == [vpn.pool_addr(1, 2)]
    assert sorted(frank.dns_servers()) == vpn.tenant_dns(1)
    assert sa["children"][0]["installed"]
    rig.wait_log(vpn.log_ctx(1) + r" 'frank@t1\.example' connected \(certificate\) with "
                 r"10\.1\.128\.2,", start=mark)


def test_revoked_client_certificate_is_refused(rig):
    info, cert, key = rig.client_cert(1, "grace")
    grace = rig.client("grace")
    rig.add_cert(grace, 1, "grace@t1.example", cert, key)
    grace.load()
    ok, log = grace.initiate("vpn", "net", timeout=15)
    assert ok, log  # the certificate is good until the operator revokes it
    rig.disconnect(grace)

    revoked = rig.revoke(1, info["id"])
    assert revoked["revoked_at"] and revoked["revocation_reason"] == "keyCompromise"
    rig.wait_config()
    mark = rig.mark()
    grace = rig.client("grace")
    rig.add_cert(grace, 1, "grace@t1.example", cert, key)
    grace.load()
    ok, log = grace.initiate("vpn", "net", timeout=15)
    assert not ok
    assert "received AUTHENTICATION_FAILED notify error" in log, log
    rig.wait_log(vpn.log_ctx(1) + r" authentication of 'grace@t1\.example' failed: the "
                 r"certificate is revoked \(answered AUTHENTICATION_FAILED\)", start=mark)
    assert "connected" not in rig.log_since(mark)


def test_rsa_3072_gateway_certificate_answer_arrives_in_fragments(rig):
    assert rig.tenants[2].server_cert["key_type"] == "RSA 3072"
    alice = rig.eap_client(2, "alice")
    mark = alice.log_size()
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    clog = alice.log()[mark:]
    m = re.search(r"received fragment #(\d+) of (\d+), reassembled fragmented IKE message "
                  r"\((\d+) bytes\)", clog)
    assert m, clog[-3000:]
    assert int(m.group(2)) >= 2 and int(m.group(3)) > 1280
    assert re.search(r"parsed IKE_AUTH response 1 \[ IDr CERT AUTH EAP/REQ/ID \]", clog)
    assert re.search(r"authentication of 'vpn\.t2\.example' with RSA\S* successful", clog), clog
    assert alice.sa()["local_vips"] == [vpn.pool_addr(2, 2)]
