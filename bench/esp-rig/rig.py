"""The benchmark rig: one client, one tenant, a gateway under test.

Shared by bench/esp-rig/throughput.py and bench/handshake/handshake.py. It
reuses the system-test harness (tests/system/lib: topo.Topo, strongswan.
Charon and Pki, freeradius.FreeRadius), so the rig is the one the tests
prove: client 198.51.100.10 -> gateway 198.51.100.1 -> LAN host 10.1.0.10,
virtual IPs from 10.1.128.0/24, EAP-MSCHAPv2 relayed to FreeRADIUS in the
gateway namespace (or checked by the gateway itself with --auth local).

A gateway is an object with .name, .pid, .start(), .stop(), .cpu_seconds()
and .sas() (a count of IKE SAs it holds, or None). Two kinds:

- StrongSwanGateway: charon with kernel-libipsec, RSA-3072 certificate,
  eap-radius (or local EAP) and a pool: real numbers today.
- IsthmusGateway: isthmusd (start_isthmusd() below) provisioned through its
  REST API with the same identity, certificate, RADIUS, pool, selectors and
  proposals; its tenant TUN device sits in the LAN namespace.
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "system"))

from lib import topo as T  # noqa: E402
from lib.freeradius import FreeRadius, User  # noqa: E402
from lib.strongswan import Charon, Pki  # noqa: E402
from lib.isthmusd import Isthmusd, binary  # noqa: E402
from lib.api import operator_client  # noqa: E402
from lib.proc import ProcSet  # noqa: E402

USER, SECRET = "alice", "alice-bench-secret"
RADIUS_SECRET = "bench-radius-s3cret"


# Turns GRO of a network device on or off (ETHTOOL_SGRO through the
# SIOCETHTOOL ioctl: this machine has no ethtool). Run inside a namespace.
_SET_GRO = """
import ctypes, fcntl, socket, struct, sys
val = ctypes.create_string_buffer(struct.pack("II", 0x2c, int(sys.argv[2])), 8)
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(val)) + bytes(16)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(s.fileno(), 0x8946, ifr)
"""


def set_gro(netns, ifname, on):
    r = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c",
                        _SET_GRO, ifname, "1" if on else "0"],
                       capture_output=True, timeout=20, text=True)
    if r.returncode:
        raise RuntimeError(f"GRO of {ifname} in {netns}: {r.stderr.strip()}")


def cpu_seconds(pid):
    """utime + stime (all threads) of pid, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def set_threaded_napi(netns, ifname):
    """Gives ifname in netns a NAPI of its own, run by a kernel thread: GRO
    on (veth uses NAPI only then) and /sys/class/net/IF/threaded = 1. What
    arrives on it is then received by that thread, not inside the sender's
    system call (a veth's default), as a separate machine's NIC would."""
    set_gro(netns, ifname, True)
    r = subprocess.run(["ip", "netns", "exec", netns, "sh", "-c",
                        f"echo 1 > /sys/class/net/{ifname}/threaded"],
                       capture_output=True, timeout=20, text=True)
    if r.returncode:
        raise RuntimeError(f"threaded NAPI of {ifname} in {netns}: {r.stderr.strip()}")


class Rig:
    """Topology, PKI, optional FreeRADIUS and the strongSwan client."""

    def __init__(self, workdir, auth="radius", proposals=None,
                 esp_proposals=None, log_levels=None, prefix="sw",
                 isthmus_workers=1, isthmusd_bin=None, wan_gro=False, client_napi=False):
        self.workdir = os.path.abspath(workdir)
        self.wan_gro = wan_gro
        self.client_napi = client_napi
        self.baseline_bin = None  # isthmusd binary of gateway "isthmus-base"
        self.prefix = prefix
        self.isthmus_workers = isthmus_workers
        self.isthmusd_bin = isthmusd_bin or isthmusd_binary()
        self.procs = ProcSet()  # isthmusd, stopped by PID at exit
        self.auth = auth
        self.proposals = proposals
        self.esp_proposals = esp_proposals
        self.log_levels = log_levels
        self.topo = None
        self.radius = None
        self.client = None
        self.pki = Pki(os.path.join(self.workdir, "pki"))
        self.cert, self.key = self.pki.server(T.tenant_fqdn(1))

    def __enter__(self):
        self.topo = T.Topo(os.path.join(self.workdir, "net"), clients=1,
                           tenants=1, prefix=self.prefix).__enter__()
        try:
            if self.wan_gro:
                # veth does no GRO unless asked (a NIC does by default):
                # the gateway's port to the client coalesces what arrives.
                set_gro(self.topo.gw, "wc0", True)
            if self.client_napi:
                # The client's receive (of what either gateway sends) runs
                # in the client's own kernel thread, not in the gateway's
                # send: as if the client were another machine.
                set_threaded_napi(self.topo.client_ns(0), "eth0")
            if self.auth == "radius":
                self.radius = FreeRadius(
                    os.path.join(self.workdir, "radius"), RADIUS_SECRET,
                    {USER: User(SECRET)}, netns=self.topo.gw,
                    default_eap_type="mschapv2")
                self.radius.start()
            self.client = Charon(os.path.join(self.workdir, "client"),
                                 self.topo.client_ns(0), name="client",
                                 log_levels=self.log_levels)
            self.client.add_ca(self.pki.ca_cert)
            self.client.add_client(
                "bench", remote_addr=T.GW_ADDR, remote_id=T.tenant_fqdn(1),
                identity=USER, secret=SECRET, remote_ts=[T.tenant_net(1)],
                proposals=self.proposals, esp_proposals=self.esp_proposals)
            self.client.start()
            self.client.load()
            self.topo.start_iperf_server(1)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self.procs.stop_all()
        if self.client:
            self.client.stop()
        if self.radius:
            self.radius.stop()
        if self.topo:
            self.topo.cleanup()

    def gateway(self, kind):
        if kind == "strongswan":
            return StrongSwanGateway(self)
        if kind in ("isthmus", "isthmus-base", "isthmus-xdp"):
            return IsthmusGateway(self, kind)
        raise ValueError(kind)

    def up(self, timeout=10.0):
        """Client initiates; returns seconds until the CHILD_SA is up."""
        t0 = time.perf_counter()
        ok, log = self.client.initiate("bench", "net", timeout=timeout)
        dt = time.perf_counter() - t0
        if not ok:
            raise RuntimeError(f"initiate failed:\n{log[-3000:]}")
        return dt

    def down(self):
        if not self.client.terminate("bench"):
            raise RuntimeError("terminate failed")

    def child_counters(self):
        """(packets_in + packets_out, bytes_in + bytes_out) of the client SA."""
        pk = by = 0
        for sa in self.client.list_sas("bench"):
            for c in sa["children"]:
                pk += c["packets_in"] + c["packets_out"]
                by += c["bytes_in"] + c["bytes_out"]
        return pk, by


class StrongSwanGateway:
    name = "strongswan"

    def __init__(self, rig):
        self.rig = rig
        self.charon = None

    def start(self):
        r = self.rig
        c = Charon(os.path.join(r.workdir, "gw-strongswan"), r.topo.gw,
                   name="gw", log_levels=r.log_levels)
        c.add_ca(r.pki.ca_cert)
        c.add_gateway(local_addrs=T.GW_ADDR, server_id=T.tenant_fqdn(1),
                      cert=r.cert, key=r.key,
                      client_auth="eap-radius" if r.radius else "eap-mschapv2",
                      pool_addrs=[T.tenant_pool(1)],
                      local_ts=[T.tenant_net(1)], proposals=r.proposals,
                      esp_proposals=r.esp_proposals)
        if r.radius:
            c.set_radius("127.0.0.1", RADIUS_SECRET, port=r.radius.auth_port,
                         acct_port=r.radius.acct_port, accounting=False)
        else:
            c.add_eap_user(USER, SECRET)
        c.start()
        c.load()
        self.charon = c
        return self

    @property
    def pid(self):
        return self.charon.pid

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def sas(self):
        return len(self.charon.list_sas())

    def stop(self):
        if self.charon:
            self.charon.stop()
            self.charon = None


ISTHMUS_TENANT = "t1"
ISTHMUS_IFNAME = "pf-t1"
T_PATH = "/api/v1/tenants"


def isthmusd_binary():
    """$ISTHMUS_BIN, else the repo's build/isthmusd (lib/isthmusd.py)."""
    return binary()


def _provision(api, rig):
    """The tenant the strongSwan gateway serves, made through the API as an
    operator would: gateway identity, the rig's RSA-3072 certificate
    (uploaded, signed by the rig CA the client trusts), FreeRADIUS, pool,
    split route, ESP proposals, and the TUN device in the LAN namespace."""
    api.must("POST", T_PATH, {
        "id": ISTHMUS_TENANT, "name": "Bench tenant", "enabled": True,
        "gateway_ids": [T.tenant_fqdn(1)], "realms": ["t1.example"],
        "network": {"ifname": ISTHMUS_IFNAME, "netns": rig.topo.lan_ns(1),
                    "mtu": 1400}}, status=201)
    pol = {"pools": [T.tenant_pool(1)], "split_routes": [T.tenant_net(1)]}
    if rig.proposals:
        pol["ike_proposals"] = rig.proposals.split(",")
    if rig.esp_proposals:
        pol["esp_proposals"] = rig.esp_proposals.split(",")
    api.must("PATCH", f"{T_PATH}/{ISTHMUS_TENANT}/policies/default", pol)
    api.must("POST", f"{T_PATH}/{ISTHMUS_TENANT}/radius-servers", {
        "name": "bench", "host": "127.0.0.1", "auth_port": rig.radius.auth_port,
        "acct_port": 0, "secret": RADIUS_SECRET}, status=201)
    with open(rig.cert) as f:
        cert = f.read()
    with open(rig.key) as f:
        key = f.read()
    with open(rig.pki.ca_cert) as f:
        chain = f.read()
    api.must("POST", f"{T_PATH}/{ISTHMUS_TENANT}/certificates/upload",
             {"certificate": cert, "private_key": key, "chain": chain},
             status=201)
    api.must("POST", f"{T_PATH}/{ISTHMUS_TENANT}/users", {"username": USER},
             status=201)


def start_isthmusd(rig, binary_path=None, folder_name="gw-isthmus", esp=None):
    """Starts isthmusd in rig.topo.gw as the gateway under test and returns
    its lib.isthmusd.Isthmusd (running).

    It serves what the strongSwan gateway serves: 198.51.100.1, UDP 500 and
    4500; identity vpn.t1.example with the rig's RSA-3072 certificate;
    EAP-MSCHAPv2 relayed to the rig's FreeRADIUS; pool 10.1.128.0/24; route
    10.1.0.0/16; the rig's IKE/ESP proposals. Its tenant TUN device lands in
    the LAN namespace (tenant network.netns), where 10.1.0.10 is local.

    The database lives in <workdir>/gw-isthmus and is kept between rounds:
    the first start issues an operator token and provisions through the
    REST API, then restarts the daemon (so its first snapshot holds all of
    it); later starts reuse it. ESP workers: rig.isthmus_workers.
    """
    if rig.radius is None:
        raise NotImplementedError("isthmusd relays EAP to RADIUS only: use --auth radius")
    folder = os.path.join(rig.workdir, folder_name)
    fresh = not os.path.exists(os.path.join(folder, "isthmus.db"))
    gw = Isthmusd(rig.procs, folder, name="isthmusd", netns=rig.topo.gw,
                  config={"daemon": {"log_level": "notice"},
                          "esp": dict({"workers": rig.isthmus_workers}, **(esp or {}))},
                  binary_path=binary_path or rig.isthmusd_bin)
    if fresh:
        api = operator_client(gw)  # issues the token, then starts
        _provision(api, rig)
        # A fresh start loads a snapshot holding every change made above.
        gw.stop()
    gw.start()
    # The snapshot brings the tenant's device up (control thread).
    gw.wait_log(rf"device {ISTHMUS_IFNAME} up", timeout=20, start=gw._log_mark)
    return gw


class IsthmusGateway:
    """isthmusd; name "isthmus-base" is another binary (rig.baseline_bin)
    measured in the same run, for before/after comparisons; "isthmus-xdp"
    the same binary with the AF_XDP receive path on wc0 ([esp] xdp)."""

    def __init__(self, rig, name="isthmus"):
        self.rig = rig
        self.name = name
        self.gw = None  # lib.isthmusd.Isthmusd

    def start(self):
        if self.name == "isthmus-base":
            self.gw = start_isthmusd(self.rig, self.rig.baseline_bin, "gw-isthmus-base")
        elif self.name == "isthmus-xdp":
            # The AF_XDP receive path on the gateway's port to the client.
            self.gw = start_isthmusd(self.rig, folder_name="gw-isthmus-xdp",
                                     esp={"xdp": "wc0"})
            self.gw.wait_log(r"AF_XDP receive on wc0", timeout=5, start=self.gw._log_mark)
        else:
            self.gw = start_isthmusd(self.rig)
        return self

    @property
    def pid(self):
        return self.gw.proc.pid

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def sas(self):
        return None

    def stop(self):
        """SIGTERM; a daemon that does not stop cleanly fails the run."""
        if self.gw:
            gw, self.gw = self.gw, None
            gw.stop()


def gateways_for(choice):
    if choice == "both":
        return ["strongswan", "isthmus"]
    if choice == "all":
        return ["strongswan", "isthmus", "isthmus-xdp"]
    return [choice]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def percentile(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows))
              for i, h in enumerate(headers)]
    line = "  ".join(str(h).rjust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(v).rjust(w) for v, w in zip(r, widths)))
