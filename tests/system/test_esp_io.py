"""The ESP worker pool with real TUN devices, without IKE.

A client namespace and a gateway namespace joined by a veth (198.51.100.0/24
and 2001:db8:e10::/64), and one namespace per tenant. The C side
(tests/unit/test_esp_io_live.c) runs in the gateway namespace: it starts the
worker pool, brings up tenant A's and tenant B's TUN devices (both with the
pool 10.1.0.0/24: overlapping on purpose) in their namespaces, installs SAs
with known keys, and plays the client from the client namespace: its pings
to 10.1.0.1 reach each tenant's kernel through its own device and the
replies come back encrypted on the right SA; a forged inner source is
dropped and counted; raw ESP and an IPv6 outer path work too.

Here we build the namespaces, run it, and check what the tenant hook saw.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib.netns import Net, _ip  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUILD = os.environ.get("ISTHMUS_BUILD", "build")

LIVE_TESTS = [
    "test_devices_live_in_their_tenant_namespaces",
    "test_a_client_pings_its_tenant_gateway",
    "test_overlapping_tenants_stay_apart",
    "test_a_forged_inner_source_is_dropped_and_counted",
    "test_raw_esp_without_udp_encapsulation",
    "test_ipv6_outer_addresses",
    "test_ike_and_keepalives_on_the_natt_port",
    "test_a_tenant_taken_down_gets_nothing",
]


def build(target):
    """Builds the test binary (ISTHMUS_BUILD selects the build folder); an
    existing binary newer than its source is used when the tree does not
    build right now. TEST_ESP_IO_LIVE_BIN names a prebuilt one instead."""
    given = os.environ.get(f"{target.upper()}_BIN")
    if given:
        return Path(given)
    path = REPO / BUILD / "tests" / target
    r = subprocess.run(["make", "-s", f"BUILD={BUILD}", str(path.relative_to(REPO))],
                       cwd=REPO, timeout=600, capture_output=True, text=True)
    if r.returncode != 0:
        src = REPO / "tests" / "unit" / f"{target}.c"
        if not (path.exists() and path.stat().st_mtime >= src.stat().st_mtime):
            pytest.fail(f"cannot build {path}:\n{r.stderr[-3000:]}")
    return path


@pytest.fixture
def eio():
    n = Net(f"eio{os.getpid() % 100000}")
    yield n
    n.cleanup()


def test_esp_workers_carry_pings_to_each_tenant_and_back(eio, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root for namespaces and TUN devices")
    live = build("test_esp_io_live")
    gw = eio.ns("gw")
    cl = eio.ns("c")
    ta = eio.ns("ta")
    tb = eio.ns("tb")
    eio.link(gw, "198.51.100.1/24", cl, "198.51.100.2/24")
    for ns, addr in ((gw, "2001:db8:e10::1/64"), (cl, "2001:db8:e10::2/64")):
        _ip("-n", ns, "-6", "addr", "add", addr, "dev", "eth0", "nodad")

    hook_log = tmp_path / "hook.log"
    hook = tmp_path / "hook.sh"
    hook.write_text("#!/bin/sh\n"
                    f"echo \"$1 $ISTHMUS_ACTION $ISTHMUS_TENANT $ISTHMUS_IFNAME "
                    f"$ISTHMUS_NETNS $ISTHMUS_MTU $ISTHMUS_POOLS\" >> {hook_log}\n")
    hook.chmod(0o755)

    env = dict(os.environ,
               ESP_IO_LIVE="1",
               EIO_CLIENT_NS=cl,
               EIO_TENANT_A_NS=ta,
               EIO_TENANT_B_NS=tb,
               EIO_HOOK=str(hook))
    out = subprocess.run(["ip", "netns", "exec", gw, str(live)], env=env,
                         capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    for name in LIVE_TESTS:
        assert f"[       OK ] {name}" in text, f"{name} did not pass:\n{text[-4000:]}"
    assert "SKIPPED" not in text, text[-4000:]
    # The drop of the forged source was summarised in the log, not per packet.
    assert "selector_mismatch" in text, text[-4000:]

    lines = hook_log.read_text().splitlines()
    assert f"up up tenant-a eioA {ta} 1400 10.1.0.0/24" in lines
    assert f"up up tenant-b eioB {tb} 1380 10.1.0.0/24" in lines
    assert f"down down tenant-b eioB {tb} 1380 10.1.0.0/24" in lines
    # Tenant A goes down when the pool stops.
    assert lines[-1] == f"down down tenant-a eioA {ta} 1400 10.1.0.0/24", lines

    # Nothing is left behind in the tenant namespaces.
    for ns in (ta, tb):
        links = _ip("-n", ns, "-o", "link", "show").stdout
        assert "eio" not in links, links
