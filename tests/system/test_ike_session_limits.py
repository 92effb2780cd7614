"""One identity, several devices: a client that says INITIAL_CONTACT (it
lost its state, e.g. after a reboot) replaces its old session at once; a
policy's per-user session limit refuses a further device with a log line
saying so; a gateway that counts sessions per user does not count the ones
a reconnecting client replaces."""
import pytest

from lib import vpn

pytestmark = pytest.mark.skipif(vpn.skip_reason() is not None,
                                reason=vpn.skip_reason() or "")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with vpn.Rig(tmp_path_factory.mktemp("ike-limits"), tenants=1, clients=2,
                 prefix="isl") as r:
        r.tenant(1, users={"alice": {}})
        r.start_radius()
        r.wait_config()
        yield r


@pytest.fixture(autouse=True)
def disconnect_clients(rig):
    yield
    rig.reset()


def laptop_and_phone(rig, unique=None):
    extra = {"unique": unique} if unique else None
    laptop = rig.client("laptop", ns=rig.topo.client_ns(0))
    rig.add_eap(laptop, 1, "alice", extra=extra)
    laptop.load()
    phone = rig.client("phone", ns=rig.topo.client_ns(1))
    rig.add_eap(phone, 1, "alice", extra=extra)
    phone.load()
    return laptop, phone


def test_initial_contact_replaces_the_old_session(rig):
    rig.set_policy(1, sessions_per_user=0)
    rig.wait_config()
    mark = rig.mark()
    laptop, phone = laptop_and_phone(rig)
    assert laptop.initiate("vpn", "net", timeout=15).ok
    first = rig.wait_log(r"\[tenant=t1 session=(\S+) peer=\S+\] 'alice' connected", start=mark)
    mark = rig.mark()
    assert phone.initiate("vpn", "net", timeout=15).ok
    rig.wait_log(rf"\[tenant=t1 session={first.group(1)} peer=\S+\] IKE_SA ESTABLISHED -> DEAD: "
                 r"replaced: the same identity connected again \(INITIAL_CONTACT\)", start=mark)


def test_session_limit_refuses_another_device(rig):
    rig.set_policy(1, sessions_per_user=1)
    rig.wait_config()
    mark = rig.mark()
    # unique=never: strongSwan sends no INITIAL_CONTACT, so the phone is a
    # second device, not the laptop coming back.
    laptop, phone = laptop_and_phone(rig, unique="never")
    assert laptop.initiate("vpn", "net", timeout=15).ok
    r = phone.initiate("vpn", "net", timeout=15)
    assert not r.ok and "AUTHENTICATION_FAILED" in r.log, r.log
    rig.wait_log(r"authentication of 'alice' failed: the user has reached the policy's "
                 r"session limit", start=mark)
    assert laptop.sa()["state"] == "ESTABLISHED", "the first device keeps its session"

    rig.set_policy(1, sessions_per_user=2)
    rig.wait_config()
    assert phone.initiate("vpn", "net", timeout=15).ok, "a limit of two admits the phone"
