"""Drain for maintenance (RFC 5685 redirect), driven through the API: while
the operator drains the gateway, a new strongSwan client gets REDIRECT to
the configured gateway in answer to IKE_SA_INIT (no IKE SA is made here),
and after DELETE /drain clients connect again. Only operators may drain."""
import re

import pytest

from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")

OTHER_GW = "198.51.100.3"


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("mob-drain"), tenants=1, clients=1,
                 prefix="mb") as r:
        r.tenant(1, users={"alice": {}})
        r.start_radius()
        r.wait_config()
        yield r


def test_drain_redirects_new_clients_then_undrain(rig):
    assert rig.api.must("GET", "/api/v1/drain").json == {"draining": False,
                                                        "redirect_to": None}
    bad = rig.api.request("POST", "/api/v1/drain", {"redirect_to": "a b"})
    assert bad.status == 400
    r = rig.api.must("POST", "/api/v1/drain", {"redirect_to": OTHER_GW}).json
    assert r == {"draining": True, "redirect_to": OTHER_GW}

    mark = rig.mark()
    alice = rig.eap_client(1, "alice")
    ok, log = alice.initiate("vpn", "net", timeout=10)
    rig.wait_log(rf"draining: new client redirected to {re.escape(OTHER_GW)}", start=mark)
    # The client followed the redirect: it now talks to the other gateway.
    alice.wait_log(rf"(redirect|REDIRECT).*{re.escape(OTHER_GW)}", timeout=10)
    assert "'alice' connected" not in rig.log_since(mark)
    rig.disconnect(alice)

    rig.api.must("DELETE", "/api/v1/drain", status=204)
    alice = rig.eap_client(1, "alice", name="alice2")
    ok, log = alice.initiate("vpn", "net", timeout=15)
    assert ok, log
    rig.disconnect(alice)
