"""What IKE_SA_INIT negotiates with a strongSwan client: a client that
offers only weak algorithms gets NO_PROPOSAL_CHOSEN; a client whose first
key exchange group the tenant's policy does not allow is asked for another
with INVALID_KE_PAYLOAD, retries and connects with it."""
import pytest

from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("ike-proposals"), tenants=1, clients=1) as r:
        r.tenant(1, users={"alice": {}})
        r.start_radius()
        r.wait_config()
        yield r


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


# Each differs from the allowed aes256-sha256-modp2048 in its weak part only.
@pytest.mark.parametrize("weak", ["3des-sha256-modp2048", "aes256-sha1-modp2048",
                                  "aes256-md5-modp2048", "aes256-sha256-modp1024"])
def test_only_weak_algorithms_get_no_proposal_chosen(rig, weak):
    mark = rig.mark()
    alice = rig.eap_client(1, "alice", proposals=weak)
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert not ok
    assert "parsed IKE_SA_INIT response 0 [ N(NO_PROP) ]" in log, log
    assert "received NO_PROPOSAL_CHOSEN notify error" in log, log
    rig.wait_log(r"\[peer=198\.51\.100\.10\[500\]\] refused IKE_SA_INIT: none of the 1 proposals "
                 r"is allowed \(NO_PROPOSAL_CHOSEN\)", start=mark)
    assert alice.list_sas() == []


def test_unallowed_first_ke_group_gets_invalid_ke_and_the_client_retries(rig):
    rig.set_policy(1, ike_proposals=["aes256gcm16-prfsha256-ecp256"])
    rig.wait_config()
    try:
        mark = rig.mark()
        alice = rig.eap_client(1, "alice")  # strongSwan's defaults: KE for Curve25519 first
        ok, log = alice.initiate("vpn", "net", timeout=15)
        assert ok, log
        assert "parsed IKE_SA_INIT response 0 [ N(INVAL_KE) ]" in log, log
        assert "peer didn't accept DH group CURVE_25519, it requested ECP_256" in log, log
        sa = alice.sa()
        assert (sa["encr_alg"], sa["encr_keysize"], sa["prf_alg"], sa["dh_group"]) == \
            ("AES_GCM_16", 256, "PRF_HMAC_SHA2_256", "ECP_256")
        assert sa["local_vips"] == [vpn.pool_addr(1, 2)]
        rig.wait_log(r"asking for KE group ECP256 instead of CURVE25519 \(INVALID_KE_PAYLOAD\)",
                     start=mark)
        rig.wait_log(vpn.log_ctx(1) + r" 'alice' connected \(EAP\) with 10\.1\.128\.2, IKE "
                     r"AES_GCM_16_256/HMAC_SHA2_256/ECP256,", start=mark)
    finally:
        rig.set_policy(1, ike_proposals=None)  # back to the default set
        rig.wait_config()
