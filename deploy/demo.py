#!/usr/bin/python3
"""The Isthmus demo: one run shows the whole product on this machine.

In network namespaces it starts FreeRADIUS (the tenant's RADIUS), isthmusd
(the gateway), a LAN host of the tenant, and a strongSwan client. It creates
a demo tenant through the REST API (policy, address pool, RADIUS server,
server certificate), connects the client with EAP-MSCHAPv2, pings the
tenant's LAN host through the tunnel, prints the session as the API shows
it, and cleans everything up.

Run it as root from the source tree: `make demo` (which installs what is
missing and builds first).
"""
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

from lib import topo as T  # noqa: E402
from lib import vpn  # noqa: E402


def say(text):
    print(f"\n== {text}", flush=True)


def main():
    why = vpn.skip_reason()
    if why:
        print(f"demo: cannot run here: {why}", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="isthmus-demo-")
    say(f"building the rig in network namespaces (files under {work})")
    with vpn.Rig(work, tenants=1, clients=1, prefix="demo") as rig:
        print(f"   client      {T.client_addr(0)}   (namespace {rig.topo.client_ns(0)})")
        print(f"   gateway     {T.GW_ADDR}    isthmusd, FreeRADIUS (namespace {rig.topo.gw})")
        print(f"   tenant LAN  {T.tenant_net(1)}  host {T.lan_host(1)} "
              f"(namespace {rig.topo.lan_ns(1)})")

        say("creating tenant t1 through the REST API (policy, pool, RADIUS server, "
            "server certificate) and user alice")
        ten = rig.tenant(1, users={"alice": {"display_name": "Alice Demo"}})
        rig.start_radius()
        rig.wait_config()
        tenant = rig.api.must("GET", f"/api/v1/tenants/{ten.id}").json
        print("   " + json.dumps({k: tenant[k] for k in ("id", "name", "gateway_ids",
                                                          "realms", "network")}))

        say("alice connects with strongSwan (EAP-MSCHAPv2 relayed to FreeRADIUS)")
        alice = rig.eap_client(1, "alice")
        t0 = time.monotonic()
        ok, log = alice.initiate("vpn", "net", timeout=20)
        if not ok:
            print(log)
            print(rig.gw.log()[-4000:])
            return 1
        sa = alice.sa()
        child = sa["children"][0]
        print(f"   connected in {1000 * (time.monotonic() - t0):.0f} ms: virtual IP "
              f"{sa['local_vips'][0]}, IKE {sa['encr_alg']}-{sa.get('encr_keysize', '')}/"
              f"{sa['dh_group']}, ESP {child['encr_alg']}, "
              f"{child['local_ts'][0]} === {child['remote_ts'][0]}")

        say(f"pinging the tenant's LAN host {T.lan_host(1)} through the tunnel")
        ok, out = rig.topo.ping(rig.topo.client_ns(0), T.lan_host(1), count=3)
        print("   " + "\n   ".join(line for line in out.splitlines() if line.strip()))
        if not ok:
            print(rig.gw.log()[-4000:])
            return 1

        say("the session as the REST API shows it (GET /api/v1/sessions)")
        r = rig.api.get("/api/v1/sessions")
        if r.status == 200:
            print(json.dumps(r.json, indent=2))
        else:
            print(f"   (GET /api/v1/sessions answered {r.status})")

        say("the gateway's log of this connection")
        for line in rig.gw.log().splitlines():
            if "'alice'" in line or "listening" in line:
                print("   " + line)

        say("alice disconnects; cleaning up")
        rig.disconnect(alice)
    print("\ndemo: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
