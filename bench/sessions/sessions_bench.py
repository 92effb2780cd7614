#!/usr/bin/python3
"""Live-session API under dashboard load while a tunnel carries traffic.

The rig of the system tests (tests/system/lib/vpn.py: namespaces,
FreeRADIUS, isthmusd provisioned through the API) with one strongSwan
client whose TCP stream (iperf3 to the tenant LAN) runs through isthmusd,
and SESSIONS more sessions in the registry. Those are made up at start by
a benchmark build of isthmusd (-DISTHMUS_BENCH_SESSIONS, see
concentrator/bench_inject.c): 10,000 real clients do not fit on the rig.
The API reads them exactly like real ones (registry copies, per-session
SA-database lookups of their SPIs, JSON).

Measured in one run, on the same machine:
  1. iperf3 alone (the baseline throughput),
  2. iperf3 while wrk polls GET /api/v1/sessions?limit=1000 and
     GET /api/v1/stats, paced (--rate requests/s in all, a NOC wall's worth),
  3. the same flat out (wrk as fast as it can, 2 connections per path),
and reports requests/s, p50/p99 latency per path and the stream's
throughput loss against (1). Targets (issue 6): p99 under 50 ms for a
1,000-item page, under 5% throughput loss.

    sudo /usr/bin/python3 bench/sessions/sessions_bench.py [--sessions 10000]
         [--seconds 10] [--rate 20] [--bin build-bench/isthmusd]

The binary is built with
    make BUILD=build-bench CFLAGS="-O2 -g -DISTHMUS_BENCH_SESSIONS"
unless --bin is given. wrk, iperf3, isthmusd and the client share the
machine's cores, as they would not in production: the flat-out figures are
a floor.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "system"))

from lib import topo as T  # noqa: E402
from lib import vpn  # noqa: E402
from lib.topo import iperf_summary  # noqa: E402

LUA = r"""
local token = os.getenv("API_TOKEN")
local pace = tonumber(os.getenv("PACE_MS") or "0")
wrk.headers["Authorization"] = "Bearer " .. token
function delay()
  return pace
end
"""


def build(binary):
    if binary:
        return binary
    subprocess.run(["make", "-s", "BUILD=build-bench", "CFLAGS=-O2 -g -DISTHMUS_BENCH_SESSIONS",
                    "build-bench/isthmusd"], cwd=REPO, check=True)
    return str(REPO / "build-bench" / "isthmusd")


def parse_wrk(out):
    res = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            res[f"p{pct}"] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"Transfer/sec:\s+(\S+)", out)
    res["transfer"] = m.group(1) if m else "?"
    return res


def wrk(netns, url, token, seconds, conns, pace_ms, lua):
    env = dict(os.environ, API_TOKEN=token, PACE_MS=str(pace_ms))
    r = subprocess.run(["ip", "netns", "exec", netns, "wrk", "-t", "1", "-c", str(conns),
                        "-d", f"{seconds}s", "--latency", "-s", lua, url],
                       capture_output=True, text=True, env=env, timeout=seconds + 60)
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed: {r.stderr}")
    return parse_wrk(r.stdout)


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stream(rig, seconds):
    rep = rig.topo.iperf(rig.topo.client_ns(0), T.lan_host(1), seconds=seconds)
    return iperf_summary(rep)[0]


def with_load(rig, seconds, load):
    """Runs iperf3 for `seconds` while the load callables run; returns
    (stream bits/s, [load results], isthmusd CPU seconds)."""
    results = [None] * len(load)
    cpu0 = cpu_seconds(rig.gw.proc.pid)

    def run(i, fn):
        results[i] = fn()
    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(load)]
    for t in threads:
        t.start()
    bps = stream(rig, seconds)
    for t in threads:
        t.join(seconds + 90)
    return bps, results, cpu_seconds(rig.gw.proc.pid) - cpu0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=float, default=20.0,
                    help="paced requests/s over both paths (half each)")
    ap.add_argument("--rounds", type=int, default=2, help="baseline/loaded rounds (interleaved)")
    ap.add_argument("--no-flat", action="store_true",
                    help="skip the flat-out phase (more rounds of baseline/paced in the time)")
    ap.add_argument("--api-nice", type=int, default=None,
                    help="[api] nice of isthmusd (default: the daemon's, 10)")
    ap.add_argument("--bin", default=None)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    os.environ["ISTHMUS_BIN"] = build(a.bin)
    os.environ["ISTHMUS_BENCH_SESSIONS"] = str(a.sessions)
    os.environ["ISTHMUS_BENCH_TENANT"] = "t1"
    workdir = a.workdir or tempfile.mkdtemp(prefix="bench-sessions-")
    lua = os.path.join(workdir, "auth.lua")
    Path(lua).write_text(LUA)

    cfg = {"daemon": {"log_level": "info"}}
    if a.api_nice is not None:
        cfg["api"] = {"nice": a.api_nice}
    with vpn.Rig(os.path.join(workdir, "rig"), tenants=1, clients=1, isthmusd_config=cfg,
                 prefix="bs") as rig:
        rig.tenant(1, users={"alice": {}})
        rig.start_radius()
        rig.wait_config()
        rig.topo.start_iperf_server(1)
        alice = rig.eap_client(1, "alice")
        ok, log = alice.initiate("vpn", "net", timeout=15)
        if not ok:
            sys.exit(f"the client did not connect:\n{log}")
        page = rig.api.must("GET", "/api/v1/sessions?limit=1000")
        total = rig.api.must("GET", "/api/v1/stats")["active_sessions"]
        print(f"registry: {total} sessions; a 1,000-item page is {len(page.text)} bytes")
        base = rig.gw.api_url
        token = rig.api.token
        ns = rig.topo.gw
        sess_url = base + "/api/v1/sessions?limit=1000"
        stats_url = base + "/api/v1/stats"
        pace = int(2 * 1000 / a.rate)  # one connection per path, each at rate/2

        def load(conns, pace_ms):
            return [lambda: wrk(ns, sess_url, token, a.seconds, conns, pace_ms, lua),
                    lambda: wrk(ns, stats_url, token, a.seconds, conns, pace_ms, lua)]

        base_bps, paced_bps, flat_bps = [], [], []
        paced, flat = [], []
        cpu = {"base": [], "paced": [], "flat": []}
        stream(rig, 2)  # warm-up
        for _ in range(a.rounds):
            bps, _, c = with_load(rig, a.seconds, [])
            base_bps.append(bps)
            cpu["base"].append(c)
            bps, res, c = with_load(rig, a.seconds, load(1, pace))
            paced_bps.append(bps)
            paced.append(res)
            cpu["paced"].append(c)
            if a.no_flat:
                continue
            bps, res, c = with_load(rig, a.seconds, load(2, 0))
            flat_bps.append(bps)
            flat.append(res)
            cpu["flat"].append(c)
        rig.reset()

    def show(name, runs, bps, cpus):
        b = statistics.median(base_bps)
        loss = 100.0 * (b - statistics.median(bps)) / b
        # Each loaded phase against the baseline of its own round, which ran
        # just before it: less exposed to the machine's drift than medians.
        paired = statistics.median(100.0 * (x - y) / x for x, y in zip(base_bps, bps))
        reqs = sum(r[i]["rps"] for r in runs for i in range(2)) * a.seconds
        extra = sum(cpus) - sum(cpu["base"])
        print(f"\n{name}: stream {statistics.median(bps) / 1e6:.0f} Mbit/s "
              f"(loss {loss:.1f}% against the median {b / 1e6:.0f} Mbit/s alone, "
              f"median of the rounds' own losses {paired:.1f}%; negative: a gain); "
              f"isthmusd CPU "
              f"{sum(cpus) / len(cpus):.2f} s per {a.seconds} s run "
              f"({sum(cpu['base']) / len(cpus):.2f} s without polling: "
              f"{1000 * extra / max(reqs, 1):.2f} ms per request)")
        for i, path in enumerate(("GET /sessions?limit=1000", "GET /stats")):
            rps = statistics.median(r[i]["rps"] for r in runs)
            p50 = statistics.median(r[i].get("p50", 0) for r in runs)
            p99 = max(r[i].get("p99", 0) for r in runs)
            err = sum(r[i]["errors"] for r in runs)
            print(f"  {path:26s} {rps:8.1f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
                  f"  non-2xx {err}")
        return loss

    print(f"\n{a.sessions} made-up sessions + 1 real one; {a.rounds} rounds of {a.seconds} s; "
          f"baseline streams: {', '.join(f'{x / 1e6:.0f}' for x in base_bps)} Mbit/s; paced: "
          f"{', '.join(f'{x / 1e6:.0f}' for x in paced_bps)}")
    show(f"paced ({a.rate:g} req/s in all)", paced, paced_bps, cpu["paced"])
    if flat:
        show("flat out (2 connections per path)", flat, flat_bps, cpu["flat"])


if __name__ == "__main__":
    main()
