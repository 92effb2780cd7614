"""The standard rig of the system tests and benchmarks, in network namespaces.

    client ns c0..cN-1            gateway ns gw                 LAN ns lan1..lanT
    eth0 198.51.100.10+i/24 ---+  wan0 (bridge) 198.51.100.1/24
                               +--  ports wc0.., wnat          lan1 10.1.0.1/24 --- eth0 10.1.0.10/24
    NAT ns nat                 |   (isthmusd or charon here)   lan2 10.2.0.1/24 --- eth0 10.2.0.10/24
    out0 198.51.100.2/24 ------+
    in0 (bridge) 203.0.113.1/24, nft masquerade (random ports) out of out0
      +-- NAT'ed client ns n0..nM-1: eth0 203.0.113.10+j/24, default via 203.0.113.1

Addresses (t = tenant number, from 1):

    gateway outer address      198.51.100.1        GW_ADDR
    client i (no NAT)          198.51.100.(10+i)   client_addr(i)
    NAT outside address        198.51.100.2        NAT_OUT_ADDR (what the gateway sees)
    NAT inside / client j      203.0.113.1 / 203.0.113.(10+j)
    tenant t LAN link          10.t.0.0/24, gateway 10.t.0.1, host 10.t.0.10
    tenant t networks          10.t.0.0/16         (the clients' remote_ts)
    tenant t address pool      10.t.128.0/24       (virtual IPs; routed by the gateway)
    tenant t gateway identity  vpn.t<t>.example    (FQDN in the server certificate)

With second_gateway=True a second gateway namespace gw2 hangs on the same
WAN bridge (wan0 of gw) as 198.51.100.3/24 (GW2_ADDR), for a second
isthmusd: a client redirected there reaches it directly. Its tenant t has
a LAN namespace g2lan<t> of its own (gw2_lan_ns(t)) where the host address
10.t.0.10 sits on the loopback device: that isthmusd's tenant TUN placed
there makes the address answer through its tunnels only.

With relay=True a namespace rly on the same bridge has 198.51.100.4/24
(RELAY_ADDR), for a userspace relay (lib/udprelay.py) that a client uses
as its gateway address: see start_relay().

Clients have no default route (only their /24); the gateway drops clear-text
forwarding between wan0 and the LAN links (nft, isolate_wan=True), so a
packet that reaches a LAN host went through a tunnel.

The gateway namespace forwards (ip_forward=1, rp_filter off); each LAN
host routes everything via 10.t.0.1 and answers ping; `start_iperf_server`
runs `iperf3 -s` on it. Whatever runs the gateway (charon here, isthmusd in
the Isthmus tests) must route each pool back into its tunnel device; for an
isthmusd whose tenant TUN is moved into the tenant's LAN namespace, the
host address 10.t.0.10 there is local and the gateway link is unused.

Namespace names are <prefix><role> with a prefix unique to the process
("sw" by default); everything is deleted by cleanup(), processes by PID.
"""
import itertools
import json
import os
import subprocess

from .netns import Net
from .proc import Proc, run, wait_for

GW_ADDR = "198.51.100.1"
NAT_OUT_ADDR = "198.51.100.2"
GW2_ADDR = "198.51.100.3"
RELAY_ADDR = "198.51.100.4"
NAT_IN_ADDR = "203.0.113.1"
WAN_PREFIX = 24
IPERF_PORT = 5201

_seq = itertools.count()


def client_addr(i):
    return f"198.51.100.{10 + i}"


def nat_client_addr(j):
    return f"203.0.113.{10 + j}"


def lan_gw_addr(t):
    return f"10.{t}.0.1"


def lan_host(t):
    return f"10.{t}.0.10"


def tenant_net(t):
    return f"10.{t}.0.0/16"


def tenant_pool(t):
    return f"10.{t}.128.0/24"


def tenant_fqdn(t):
    return f"vpn.t{t}.example"


def _ip(*args):
    return subprocess.run(["ip", *args], check=True, capture_output=True,
                          text=True, timeout=20)


class Topo:
    """Builds the rig; use as a context manager or call cleanup()."""

    def __init__(self, workdir, clients=1, tenants=1, nat_clients=0,
                 prefix="sw", nat_random_ports=True, isolate_wan=True,
                 second_gateway=False, relay=False):
        self.workdir = os.path.abspath(str(workdir))
        os.makedirs(self.workdir, exist_ok=True)
        # pid and a counter keep parallel runs and several rigs apart
        self.prefix = f"{prefix}{os.getpid() % 100000}x{next(_seq)}"
        self.n_clients = clients
        self.n_tenants = tenants
        self.n_nat = nat_clients
        self.nat_random_ports = nat_random_ports
        self.isolate_wan = isolate_wan
        self.second_gateway = second_gateway
        self.gw2 = None
        self.gw2_lans = {}
        self.relay = relay
        self.relay_ns = None
        self.net = Net(self.prefix)
        self.procs = []
        self.gw = None
        self.nat = None
        self.clients = []
        self.nat_clients = []
        self.lans = {}

    def __enter__(self):
        try:
            return self.build()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()

    # -- building ------------------------------------------------------------
    def _bridge(self, ns, name, addr):
        _ip("-n", ns, "link", "add", name, "type", "bridge")
        _ip("-n", ns, "addr", "add", addr, "dev", name)
        _ip("-n", ns, "link", "set", name, "up")

    def _port(self, ns, dev, bridge):
        _ip("-n", ns, "link", "set", dev, "master", bridge)

    def _forwarding(self, ns):
        self.net.sysctl(ns, "net.ipv4.ip_forward", 1)
        self.net.sysctl(ns, "net.ipv4.conf.all.rp_filter", 0)
        self.net.sysctl(ns, "net.ipv4.conf.default.rp_filter", 0)

    def build(self):
        net = self.net
        self.gw = net.ns("gw")
        self._forwarding(self.gw)
        self._bridge(self.gw, "wan0", f"{GW_ADDR}/{WAN_PREFIX}")
        for i in range(self.n_clients):
            ns = net.ns(f"c{i}")
            net.link(ns, f"{client_addr(i)}/{WAN_PREFIX}", self.gw, None,
                     "eth0", f"wc{i}")
            self._port(self.gw, f"wc{i}", "wan0")
            self.net.sysctl(ns, "net.ipv4.conf.all.rp_filter", 0)
            self.clients.append(ns)
        if self.n_nat:
            self.nat = net.ns("nat")
            self._forwarding(self.nat)
            net.link(self.nat, f"{NAT_OUT_ADDR}/{WAN_PREFIX}", self.gw, None,
                     "out0", "wnat")
            self._port(self.gw, "wnat", "wan0")
            self._bridge(self.nat, "in0", f"{NAT_IN_ADDR}/24")
            rule = "masquerade random" if self.nat_random_ports else "masquerade"
            nft = ("table ip swnat {\n chain post {\n"
                   "  type nat hook postrouting priority srcnat; policy accept;\n"
                   f'  oifname "out0" {rule}\n }}\n}}\n')
            subprocess.run(["ip", "netns", "exec", self.nat, "nft", "-f", "-"],
                           input=nft, text=True, check=True,
                           capture_output=True, timeout=20)
            for j in range(self.n_nat):
                ns = net.ns(f"n{j}")
                net.link(ns, f"{nat_client_addr(j)}/24", self.nat, None,
                         "eth0", f"nc{j}")
                self._port(self.nat, f"nc{j}", "in0")
                net.route(ns, "default", NAT_IN_ADDR)
                self.net.sysctl(ns, "net.ipv4.conf.all.rp_filter", 0)
                self.nat_clients.append(ns)
        if self.second_gateway:
            self.gw2 = net.ns("gw2")
            net.link(self.gw2, f"{GW2_ADDR}/{WAN_PREFIX}", self.gw, None, "eth0", "wgw2")
            self._port(self.gw, "wgw2", "wan0")
            self.net.sysctl(self.gw2, "net.ipv4.conf.all.rp_filter", 0)
            for t in range(1, self.n_tenants + 1):
                ns = net.ns(f"g2lan{t}")
                _ip("-n", ns, "addr", "add", f"{lan_host(t)}/32", "dev", "lo")
                self.net.sysctl(ns, "net.ipv4.conf.all.rp_filter", 0)
                self.gw2_lans[t] = ns
        if self.relay:
            self.relay_ns = net.ns("rly")
            net.link(self.relay_ns, f"{RELAY_ADDR}/{WAN_PREFIX}", self.gw, None, "eth0", "wrly")
            self._port(self.gw, "wrly", "wan0")
        if self.isolate_wan:
            # Only tunnelled traffic may reach a LAN: nothing is forwarded
            # between the outer side and a LAN link in clear text.
            nft = ("table inet swgw {\n chain forward {\n"
                   "  type filter hook forward priority filter; policy accept;\n"
                   '  iifname "wan0" oifname "lan*" drop\n'
                   '  iifname "lan*" oifname "wan0" drop\n }\n}\n')
            subprocess.run(["ip", "netns", "exec", self.gw, "nft", "-f", "-"],
                           input=nft, text=True, check=True,
                           capture_output=True, timeout=20)
        for t in range(1, self.n_tenants + 1):
            ns = net.ns(f"lan{t}")
            net.link(self.gw, f"{lan_gw_addr(t)}/24", ns, f"{lan_host(t)}/24",
                     f"lan{t}", "eth0")
            net.route(ns, "default", lan_gw_addr(t))
            self.lans[t] = ns
        return self

    def cleanup(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()
        self.net.cleanup()

    # -- names ---------------------------------------------------------------
    def client_ns(self, i=0):
        return self.clients[i]

    def nat_client_ns(self, j=0):
        return self.nat_clients[j]

    def lan_ns(self, t=1):
        return self.lans[t]

    def gw2_lan_ns(self, t=1):
        """Tenant t's LAN namespace behind the second gateway."""
        return self.gw2_lans[t]

    def start_relay(self, delay, ports=(500, 4500), to=GW_ADDR):
        """Starts lib/udprelay.py in the relay namespace: datagrams between
        a client and `to` on the given ports, each delayed by `delay`
        seconds. Returns its Proc (stopped at cleanup)."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udprelay.py")
        p = Proc(["/usr/bin/python3", script, "--listen", RELAY_ADDR, "--to", to,
                  "--ports", ",".join(str(x) for x in ports), "--delay", str(delay)],
                 os.path.join(self.workdir, "udprelay.log"), netns=self.relay_ns)
        self.procs.append(p)
        p.wait_log(r"relay ready", timeout=10)
        return p

    # -- traffic -------------------------------------------------------------
    def ping(self, ns, dst, count=3, interval=0.2, wait=2, src=None, size=None):
        """Pings dst from ns; returns (all answered, output)."""
        argv = ["ping", "-n", "-c", str(count), "-i", str(interval),
                "-W", str(wait)]
        if src:
            argv += ["-I", src]
        if size:
            argv += ["-s", str(size)]
        r = run(argv + [dst], netns=ns, check=False,
                timeout=count * (interval + wait) + 10)
        out = r.stdout + r.stderr
        ok = r.returncode == 0 and f" {count} received" in out
        return ok, out

    def start_iperf_server(self, t=1, port=IPERF_PORT):
        """iperf3 -s on tenant t's LAN host; returns its Proc (stopped at cleanup)."""
        p = Proc(["iperf3", "-s", "--forceflush", "-B", lan_host(t), "-p", str(port)],
                 os.path.join(self.workdir, f"iperf3-s-lan{t}-{port}.log"),
                 netns=self.lans[t])
        self.procs.append(p)
        p.wait_log(r"Server listening", timeout=10)
        return p

    def iperf(self, ns, dst, seconds=3, port=IPERF_PORT, udp=False,
              length=None, bitrate=None, reverse=False, bind=None):
        """iperf3 client from ns to dst; returns the parsed JSON report."""
        argv = ["iperf3", "-c", dst, "-p", str(port), "-t", str(seconds), "-J"]
        if udp:
            argv += ["-u", "-b", str(bitrate or "0")]
        elif bitrate:
            argv += ["-b", str(bitrate)]
        if length:
            argv += ["-l", str(length)]
        if reverse:
            argv.append("-R")
        if bind:
            argv += ["-B", bind]
        r = run(argv, netns=ns, check=False, timeout=seconds + 30)
        try:
            report = json.loads(r.stdout)
        except ValueError:
            raise RuntimeError(f"iperf3 gave no JSON ({r.returncode}):\n"
                               f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        if "error" in report:
            raise RuntimeError(f"iperf3: {report['error']}")
        return report

    def wait_ping(self, ns, dst, timeout=10.0):
        """Waits until one ping from ns reaches dst."""
        return wait_for(lambda: self.ping(ns, dst, count=1, wait=1)[0], timeout,
                        interval=0.1, what=f"ping {dst} from {ns}")


def iperf_summary(report):
    """(bits per second received, bytes received, retransmits) of a TCP run,
    or (bps, bytes, lost packets) of a UDP run."""
    end = report["end"]
    if "sum_received" in end:
        rx = end["sum_received"]
        return rx["bits_per_second"], rx["bytes"], end.get("sum_sent", {}).get("retransmits", 0)
    s = end["sum"]
    return s["bits_per_second"], s["bytes"], s.get("lost_packets", 0)
