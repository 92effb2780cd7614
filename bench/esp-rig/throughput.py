#!/usr/bin/python3
"""ESP throughput benchmark: iperf3 through the tunnel, per gateway.

The strongSwan client (198.51.100.10) sends iperf3 traffic through its
tunnel to the LAN host 10.1.0.10 behind the gateway under test. For each
run it reports throughput, the ESP packets moved (the client CHILD_SA's
packets in + out, which all cross the gateway), the gateway's CPU time
(utime + stime of its process from /proc/<pid>/stat, all threads) and CPU
time per packet. Gateways are measured in the same run, interleaved in
rounds; compare medians, and the ratio of CPU per packet.

    sudo /usr/bin/python3 bench/esp-rig/throughput.py --gateway both
    ... --udp --length 1350 --bitrate 200M   # UDP datagrams of 1350 bytes
    ... --profile /tmp/prof                  # perf record -g of each gateway run
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rig as R  # noqa: E402
from rig import T  # noqa: E402


def esp_algorithm(rig):
    """The negotiated ESP transform of the client's CHILD_SA, e.g.
    "AES_GCM_16-128" (so both gateways are seen to use the same one)."""
    for sa in rig.client.list_sas("bench"):
        for c in sa["children"]:
            alg = c.get("encr_alg", "?")
            size = c.get("encr_keysize")
            integ = c.get("integ_alg")
            return alg + (f"-{size}" if size else "") + (f"/{integ}" if integ else "")
    return "?"


def start_profile(gw, a, tag):
    """perf record -g of the gateway process for the run (--profile)."""
    if not a.profile:
        return None
    os.makedirs(a.profile, exist_ok=True)
    out = os.path.join(a.profile, f"{tag}.perf.data")
    log = open(os.path.join(a.profile, f"{tag}.perf.log"), "wb")
    return subprocess.Popen(["perf", "record", "-g", "-F", "999", "-o", out,
                             "-p", str(gw.pid)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop_profile(p):
    if p is None:
        return
    p.send_signal(2)  # SIGINT: perf writes its file and exits
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)


def one_run(rig, gw, a, tag):
    rig.up()
    rig.topo.wait_ping(rig.topo.client_ns(0), T.lan_host(1))
    alg = esp_algorithm(rig)
    prof = start_profile(gw, a, tag)
    pk0, _ = rig.child_counters()
    g0 = gw.cpu_seconds()
    c0 = rig.client.cpu_seconds()
    try:
        report = rig.topo.iperf(rig.topo.client_ns(0), T.lan_host(1),
                                seconds=a.seconds, udp=a.udp, length=a.length,
                                bitrate=a.bitrate, reverse=a.reverse)
    finally:
        g1 = gw.cpu_seconds()
        c1 = rig.client.cpu_seconds()
        stop_profile(prof)
    pk1, _ = rig.child_counters()
    rig.down()
    bps, nbytes, loss = T.iperf_summary(report)
    wall = report["end"].get("sum_received", report["end"].get("sum", {})).get(
        "seconds", a.seconds)
    pk = pk1 - pk0
    # TCP: every ESP packet of the client SA (data out, ACKs in) crossed the
    # gateway. UDP: datagrams may be dropped on the way, so CPU is divided
    # by the datagrams iperf3 saw delivered.
    counted = pk
    if a.udp:
        s = report["end"]["sum"]
        counted = s.get("packets", 0) - s.get("lost_packets", 0)
    return {"mbps": bps / 1e6, "bytes": nbytes, "packets": pk,
            "counted": counted, "alg": alg,
            "gw_cpu": g1 - g0, "gw_util": (g1 - g0) / wall,
            "cl_util": (c1 - c0) / wall,
            "us_per_pkt": (g1 - g0) / counted * 1e6 if counted else float("nan"),
            "loss": loss}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway",
                    choices=["strongswan", "isthmus", "isthmus-xdp", "both", "all"],
                    default="both",
                    help="both: strongswan and isthmus; all: also isthmus-xdp "
                         "(isthmusd with [esp] xdp = wc0, the AF_XDP receive path)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--udp", action="store_true",
                    help="UDP instead of TCP (use with --length 1350)")
    ap.add_argument("--length", type=int, default=None,
                    help="iperf3 -l: 1350 keeps UDP datagrams under the "
                         "1400-byte TUN MTU of kernel-libipsec")
    ap.add_argument("--bitrate", default=None, help="iperf3 -b (UDP: 0 = unlimited)")
    ap.add_argument("--reverse", action="store_true", help="LAN host -> client")
    ap.add_argument("--auth", choices=["radius", "local"], default="radius")
    ap.add_argument("--proposals", default=None)
    ap.add_argument("--esp-proposals", default="aes128gcm16",
                    help="ESP proposal of the client and both gateways "
                         "(default aes128gcm16; e.g. aes256gcm16, chacha20poly1305)")
    ap.add_argument("--isthmus-workers", type=int, default=1,
                    help="isthmusd [esp] workers (default 1)")
    ap.add_argument("--isthmusd", default=None,
                    help="isthmusd binary (default $ISTHMUS_BIN or build/isthmusd)")
    ap.add_argument("--baseline", default=None, metavar="ISTHMUSD",
                    help="also measure this isthmusd binary (row isthmus-base), "
                         "interleaved: before/after a change in one run")
    ap.add_argument("--profile", default=None, metavar="DIR",
                    help="perf record -g each gateway during its runs into DIR")
    ap.add_argument("--wan-gro", choices=["on", "off"], default="off",
                    help="GRO on the gateway's veth port to the client, as a NIC "
                         "has by default (veth has it off); default off")
    ap.add_argument("--client-napi", choices=["threaded", "inline"], default="inline",
                    help="threaded: the client's veth receives in a kernel thread of its "
                         "own (GRO + threaded NAPI), so what a gateway sends is not "
                         "received inside the gateway's send call (veth's default, "
                         "inline), as with a client on another machine")
    ap.add_argument("--prefix", default="pf", help="namespace name prefix")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    if a.udp and a.length is None:
        a.length = 1350

    workdir = a.workdir or tempfile.mkdtemp(prefix="bench-esp-")
    runs = {g: [] for g in R.gateways_for(a.gateway)}
    if a.baseline:
        runs["isthmus-base"] = []
    todo = {}
    with R.Rig(workdir, auth=a.auth, proposals=a.proposals,
               esp_proposals=a.esp_proposals, prefix=a.prefix,
               isthmus_workers=a.isthmus_workers,
               isthmusd_bin=a.isthmusd, wan_gro=a.wan_gro == "on",
               client_napi=a.client_napi == "threaded") as rig:
        rig.baseline_bin = a.baseline
        for rnd in range(a.rounds):
            for g in runs:
                if g in todo:
                    continue
                gw = rig.gateway(g)
                try:
                    gw.start()
                except NotImplementedError as e:
                    todo[g] = str(e)
                    continue
                try:
                    r = one_run(rig, gw, a, f"{g}-{rnd}")
                finally:
                    gw.stop()
                runs[g].append(r)
                print(f"  {g}: {r['mbps']:.0f} Mbit/s, {r['packets']} packets, "
                      f"{r['alg']}, gateway {r['gw_util'] * 100:.0f}% CPU, "
                      f"{r['us_per_pkt']:.2f} us/packet, "
                      f"client {r['cl_util'] * 100:.0f}%", flush=True)

    mode = (f"UDP -l {a.length} -b {a.bitrate or 0}" if a.udp else
            "TCP" + (f" -l {a.length}" if a.length else ""))
    print(f"\nESP throughput: iperf3 {mode}, {a.seconds} s x {a.rounds} rounds,"
          f" client -> tunnel -> gateway -> LAN host{' (reverse)' if a.reverse else ''},"
          f" ESP {a.esp_proposals}, isthmusd {a.isthmus_workers} worker(s),"
          f" WAN GRO {a.wan_gro}, client NAPI {a.client_napi}; medians")
    rows = []
    meds = {}
    for g, rs in runs.items():
        if g in todo:
            rows.append([g, "TODO"] + ["-"] * 6)
            continue

        def med(k, rs=rs):
            return R.median([r[k] for r in rs])
        meds[g] = med("us_per_pkt")
        algs = sorted({r["alg"] for r in rs})
        rows.append([g, len(rs), ",".join(algs), f"{med('mbps'):.0f}",
                     f"{med('packets'):.0f}", f"{med('gw_util') * 100:.0f}%",
                     f"{med('us_per_pkt'):.2f}", f"{med('cl_util') * 100:.0f}%"])
    R.print_table(["gateway", "runs", "ESP", "Mbit/s", "ESP packets", "gw CPU",
                   "gw us/packet", "client CPU"], rows)
    labels = {"isthmus": "Isthmus", "isthmus-xdp": "Isthmus with AF_XDP",
              "isthmus-base": "Isthmus baseline"}
    for g, label in labels.items():
        if g in meds and "strongswan" in meds and meds[g] > 0:
            ratio = meds["strongswan"] / meds[g]
            print(f"gateway CPU per packet: strongSwan / {label} = {ratio:.1f}x "
                  f"(target >= 10x): {'met' if ratio >= 10 else 'NOT met'}")
    for g, why in todo.items():
        print(f"{g}: {why}")
    print(f"logs: {workdir}")


if __name__ == "__main__":
    main()
