#!/usr/bin/python3
"""ESP throughput benchmark: iperf3 through the tunnel, per gateway.

The strongSwan client (198.51.100.10) sends iperf3 traffic through its
tunnel to the LAN host 10.1.0.10 behind the gateway under test. For each
run it reports throughput, the ESP packets moved (the client CHILD_SA's
packets in + out, which all cross the gateway), the gateway's CPU time
(utime + stime of its process from /proc/<pid>/stat, all threads) and CPU
time per packet. Gateways are measured in the same run, interleaved in
rounds; compare medians.

    sudo /usr/bin/python3 bench/esp-rig/throughput.py --gateway strongswan
    ... --udp --length 1350 --bitrate 2G      # UDP datagrams of 1350 bytes
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rig as R  # noqa: E402
from rig import T  # noqa: E402


def one_run(rig, gw, a):
    rig.up()
    rig.topo.wait_ping(rig.topo.client_ns(0), T.lan_host(1))
    pk0, _ = rig.child_counters()
    g0 = gw.cpu_seconds()
    c0 = rig.client.cpu_seconds()
    report = rig.topo.iperf(rig.topo.client_ns(0), T.lan_host(1),
                            seconds=a.seconds, udp=a.udp, length=a.length,
                            bitrate=a.bitrate, reverse=a.reverse)
    g1 = gw.cpu_seconds()
    c1 = rig.client.cpu_seconds()
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
            "gw_cpu": g1 - g0, "gw_util": (g1 - g0) / wall,
            "cl_util": (c1 - c0) / wall,
            "us_per_pkt": (g1 - g0) / counted * 1e6 if counted else float("nan"),
            "loss": loss}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway", choices=["strongswan", "isthmus", "both"],
                    default="both")
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
    ap.add_argument("--esp-proposals", default=None,
                    help="e.g. aes128gcm16, aes256gcm16, chacha20poly1305")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    if a.udp and a.length is None:
        a.length = 1350

    workdir = a.workdir or tempfile.mkdtemp(prefix="bench-esp-")
    runs = {g: [] for g in R.gateways_for(a.gateway)}
    todo = {}
    with R.Rig(workdir, auth=a.auth, proposals=a.proposals,
               esp_proposals=a.esp_proposals) as rig:
        for _ in range(a.rounds):
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
                    r = one_run(rig, gw, a)
                finally:
                    gw.stop()
                runs[g].append(r)
                print(f"  {g}: {r['mbps']:.0f} Mbit/s, {r['packets']} packets, "
                      f"gateway {r['gw_util'] * 100:.0f}% CPU, "
                      f"{r['us_per_pkt']:.2f} us/packet", flush=True)

    mode = (f"UDP -l {a.length} -b {a.bitrate or 0}" if a.udp else
            "TCP" + (f" -l {a.length}" if a.length else ""))
    print(f"\nESP throughput: iperf3 {mode}, {a.seconds} s x {a.rounds} rounds,"
          f" client -> tunnel -> gateway -> LAN host{' (reverse)' if a.reverse else ''};"
          " medians")
    rows = []
    for g, rs in runs.items():
        if g in todo:
            rows.append([g, "TODO"] + ["-"] * 5)
            continue

        def med(k, rs=rs):
            return R.median([r[k] for r in rs])
        rows.append([g, len(rs), f"{med('mbps'):.0f}", f"{med('packets'):.0f}",
                     f"{med('gw_util') * 100:.0f}%", f"{med('us_per_pkt'):.2f}",
                     f"{med('cl_util') * 100:.0f}%"])
    R.print_table(["gateway", "runs", "Mbit/s", "ESP packets", "gw CPU",
                   "gw us/packet", "client CPU"], rows)
    for g, why in todo.items():
        print(f"{g}: {why}")
    print(f"logs: {workdir}")


if __name__ == "__main__":
    main()
