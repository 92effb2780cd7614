#!/usr/bin/python3
"""Handshake benchmark: client initiate -> CHILD_SA up, per gateway.

Each sample is one full IKEv2 setup of the strongSwan client in the rig of
bench/esp-rig/rig.py (IKE_SA_INIT, IKE_AUTH with EAP-MSCHAPv2 relayed to
FreeRADIUS, virtual IP, CHILD_SA), timed from the vici `initiate` request
to its answer (which charon sends once the CHILD_SA is installed), then
torn down with a Delete. Gateways are measured in the same run, interleaved
in rounds, and compared by median.

    sudo /usr/bin/python3 bench/handshake/handshake.py --gateway strongswan
    ... --gateway both --count 20 --rounds 4 --auth local
    ... --gateway both --proposals aes256gcm16-prfsha384-ecp384   (like for like)

With both gateways it prints the negotiated algorithms of each and the
ratio of the medians (isthmus / strongswan; below 1 is faster).
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "esp-rig"))
import rig as R  # noqa: E402


def negotiated(rig):
    """The client's view of what was negotiated: "IKE .../ESP ..." (the
    gateways may pick differently from the same offer)."""
    for sa in rig.client.list_sas("bench"):
        ike = "/".join(str(sa.get(k)) for k in ("encr_alg", "encr_keysize", "integ_alg",
                                                "prf_alg", "dh_group") if sa.get(k))
        esp = "/".join(str(c.get(k)) for c in sa["children"][:1]
                       for k in ("encr_alg", "encr_keysize", "integ_alg") if c.get(k))
        return f"IKE {ike}, ESP {esp}"
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway", choices=["strongswan", "isthmus", "both"],
                    default="both")
    ap.add_argument("--count", type=int, default=20, help="handshakes per gateway")
    ap.add_argument("--rounds", type=int, default=4,
                    help="interleaving rounds (count is split over them)")
    ap.add_argument("--auth", choices=["radius", "local"], default="radius")
    ap.add_argument("--proposals", default=None)
    ap.add_argument("--esp-proposals", default=None)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--prefix", default="hs",
                    help="namespace name prefix (keeps runs of different people apart)")
    a = ap.parse_args()

    workdir = a.workdir or tempfile.mkdtemp(prefix="bench-hs-")
    per_round = max(1, -(-a.count // a.rounds))
    samples = {g: [] for g in R.gateways_for(a.gateway)}
    todo = {}
    algs = {}
    with R.Rig(workdir, auth=a.auth, proposals=a.proposals,
               esp_proposals=a.esp_proposals, prefix=a.prefix) as rig:
        for _ in range(a.rounds):
            for g in samples:
                if g in todo:
                    continue
                gw = rig.gateway(g)
                try:
                    gw.start()
                except NotImplementedError as e:
                    todo[g] = str(e)
                    continue
                try:
                    rig.up()  # warm-up, not counted
                    rig.down()
                    for _ in range(per_round):
                        if len(samples[g]) >= a.count:
                            break
                        samples[g].append(rig.up())
                        algs[g] = negotiated(rig)
                        rig.down()
                finally:
                    gw.stop()
    rows = []
    for g, xs in samples.items():
        if g in todo:
            rows.append([g, "TODO", "-", "-", "-", "-"])
            continue
        ms = [x * 1000 for x in xs]
        rows.append([g, len(ms), f"{R.median(ms):.1f}", f"{min(ms):.1f}",
                     f"{R.percentile(ms, 90):.1f}", f"{max(ms):.1f}"])
    print(f"handshake: initiate -> CHILD_SA up (EAP-MSCHAPv2, auth={a.auth}, "
          f"RSA-3072 gateway certificate), ms")
    R.print_table(["gateway", "n", "median", "min", "p90", "max"], rows)
    for g, alg in algs.items():
        print(f"{g}: {alg}")
    if all(samples.get(g) for g in ("strongswan", "isthmus")):
        ratio = R.median(samples["isthmus"]) / R.median(samples["strongswan"])
        print(f"isthmus / strongswan median: {ratio:.2f}")
    for g, why in todo.items():
        print(f"{g}: {why}")
    print(f"logs: {workdir}")


if __name__ == "__main__":
    main()
