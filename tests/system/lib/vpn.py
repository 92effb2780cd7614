"""The VPN rig: an isthmusd gateway with real peers, provisioned as an operator would.

One `Rig` is the whole world of an Isthmus system test:

- the namespace topology of lib/topo.py (clients, optional NAT'ed clients,
  one LAN per tenant; outer addresses in 198.51.100.0/24 and 203.0.113.0/24),
- an isthmusd in the gateway namespace (IKE on 500/4500 of 198.51.100.1,
  the API on 127.0.0.1:8443 there, debug log),
- an operator `lib.api.Api` client: every tenant, policy, user, RADIUS
  server and certificate is made through the REST API (each answer checked
  against openapi.yaml), never with SQL,
- one FreeRADIUS in the gateway namespace (127.0.0.1:1812/1813) knowing the
  users given, trusting the tenant CAs for EAP-TLS once `start_radius()`
  runs (after the tenants exist),
- strongSwan clients (`VpnClient`, a lib.strongswan.Charon with its own
  resolv.conf) made by `client()` plus `add_eap()` / `add_eap_tls()` /
  `add_cert()` (certificates from `client_cert()`, issued by the API), or
  `eap_client()` in one go; `disconnect()` one, `reset()` all after a test.

Tenant t follows topo.py's numbering: id "t<t>", gateway identity
vpn.t<t>.example, realm t<t>.example (or the realms given), pool
10.t.128.0/24, routes 10.t.0.0/16, DNS 10.t.0.53 and 10.t.0.54, TUN device
"ik-t<t>" placed in the tenant's LAN namespace.

    with Rig(tmp / "rig", tenants=2) as rig:
        rig.tenant(1, users={"alice": {}})
        rig.start_radius()
        rig.wait_config()
        c = rig.eap_client(1, "alice")
        ok, log = c.initiate("vpn", "net")
        sa = c.established("vpn")[0]     # sa["local_vips"] == ["10.1.128.2"]
        rig.reset()                      # clients disconnect and stop

With `second_gateway=True` a second isthmusd (`rig.gw2`, operator API
client `rig.api2`, FreeRADIUS `rig.radius2`, all in topo.py's gw2 namespace
at 198.51.100.3) is started next to the first; `tenant(t, gateway=2)`
provisions tenant t there through its own API (same identity, realms and
pool; TUN in topo's g2lan<t>), and clients trust both gateways' tenant CAs.

With `relay=True` topo.py adds a namespace at 198.51.100.4 for
`topo.start_relay(delay)` (lib/udprelay.py, datagrams delayed both ways);
`add_eap(..., remote_addr=T.RELAY_ADDR)` sends a client through it.

`wait_config()` returns once the IKE engine uses a configuration snapshot
made after the last API change (see its docstring); call it before a client
relies on what was just provisioned. `mark()` / `wait_log()` / `log_since()`
read the gateway's log. Namespaces get the prefix "ik" plus the pid; every
process is stopped by PID and every namespace deleted by `close()`.
"""
import datetime
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field

from . import strongswan as sw
from . import topo as T
from .api import operator_client
from .freeradius import FreeRadius, User, make_certs
from .isthmusd import Isthmusd, binary
from .proc import ProcSet, wait_for

RADIUS_SECRET = "ik-radius-secret-7d1"
RADIUS_SERVER_ID = "radius.test"  # FreeRADIUS's EAP-TLS server certificate (freeradius.py)
RADIUS_AUTH_PORT = 1812
RADIUS_ACCT_PORT = 1813
T_PATH = "/api/v1/tenants"

# Passwords the FreeRADIUS of a rig knows unless a test gives its own users.
DEFAULT_RADIUS_USERS = {
    "alice": "alice-pw-3c1",
    "bob": "bob-pw-91e",
    "bob@b.example": "bob-b-pw-52a",
    "carol": "carol-pw-0b4",
    "dave": "dave-pw-77f",
    **{f"user{i}": f"user{i}-pw" for i in range(10)},
}

NEEDED_PLUGINS = ["kernel-libipsec", "vici", "eap-mschapv2", "eap-tls",
                  "eap-identity", "x509", "pem", "resolve"]


def skip_reason():
    """Why the VPN tests cannot run here (None when they can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not sw.installed():
        return "strongSwan (charon, swanctl, pki) is not installed"
    missing = sw.missing_plugins(NEEDED_PLUGINS)
    if missing:
        return f"strongSwan plugins missing: {missing}"
    for tool in ("freeradius", "nft", "unshare"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"{tool} is not installed"
    if not os.access(binary(), os.X_OK):
        return f"{binary()} is missing: run `make` (or set ISTHMUS_BIN)"
    return None


def tenant_id(t):
    return f"t{t}"


def tenant_dns(t):
    return [f"10.{t}.0.53", f"10.{t}.0.54"]


def log_ctx(t):
    """A regex for the context of the gateway's log lines about an IKE SA of
    tenant t: "[tenant=t1 session=0123abcd... peer=198.51.100.10[4500]]"."""
    return rf"\[tenant={tenant_id(t)} session=\S+ peer=\S+\]"


def pool_addr(t, host):
    """The address `host` of tenant t's pool: pool_addr(1, 2) == "10.1.128.2"."""
    return f"10.{t}.128.{host}"


# ---------------------------------------------------------------------------
# the client

class VpnClient(sw.Charon):
    """A strongSwan road-warrior client as the tests use it.

    Compared with a plain Charon it also loads the `resolve` plugin, pointed
    at a resolv.conf of its own (never the host's: the file is set
    explicitly, and this machine has no resolvconf(8) that the plugin would
    prefer), so `dns_servers()` shows the DNS servers the gateway gave.
    """

    def __init__(self, workdir, netns, name="client", **kw):
        super().__init__(workdir, netns, name=name, **kw)
        self.resolv_path = os.path.join(self.workdir, "resolv.conf")
        with open(self.resolv_path, "w") as f:
            f.write("# the client's own resolv.conf (lib/vpn.py)\n")
        plugins = self.settings.setdefault("plugins", {})
        plugins["resolve"] = {"file": self.resolv_path,
                              "resolvconf": {"iface_prefix": "ik."}}

    def _plugin_list(self):
        names = [p for p in sw.CLIENT_PLUGINS if sw.plugin_available(p)]
        if not os.path.exists("/sbin/resolvconf") and not os.path.exists("/usr/sbin/resolvconf"):
            names.append("resolve")  # writes only self.resolv_path
        return names

    def vici(self, timeout=30.0):
        """A vici connection; charon's socket has a short listen backlog, so
        with many callers at once connect() may get EAGAIN: try again
        (bounded)."""
        for _ in range(100):
            try:
                return sw.Vici(self.vici_path, timeout=timeout)
            except BlockingIOError:
                time.sleep(0.02)
        return sw.Vici(self.vici_path, timeout=timeout)

    def dns_servers(self):
        """The nameservers charon installed in its resolv.conf."""
        with open(self.resolv_path) as f:
            return re.findall(r"(?m)^nameserver\s+(\S+)", f.read())

    def sa(self, conn="vpn"):
        """The one established IKE SA of conn with an installed CHILD_SA, or None."""
        sas = self.established(conn)
        return sas[0] if sas else None

    def initiate_timed(self, conn="vpn", child="net", timeout=15.0):
        """initiate() and the seconds it took: (ok, log, seconds)."""
        t0 = time.monotonic()
        ok, log = self.initiate(conn, child, timeout=timeout)
        return ok, log, time.monotonic() - t0


# ---------------------------------------------------------------------------
# the rig

@dataclass
class Tenant:
    """What the operator provisioned for tenant number t (the API's view)."""
    t: int
    id: str
    fqdn: str
    realms: list
    pool: str
    net: str
    dns: list
    ca_path: str
    server_cert: dict
    users: dict = field(default_factory=dict)  # username -> API user object


class Rig:
    def __init__(self, workdir, tenants=1, clients=1, nat_clients=0,
                 radius_users=None, isthmusd_config=None, prefix="ik",
                 second_gateway=False, relay=False):
        self.workdir = os.path.abspath(str(workdir))
        os.makedirs(self.workdir, exist_ok=True)
        self.n_tenants = tenants
        self.topo = T.Topo(os.path.join(self.workdir, "topo"), clients=clients,
                           tenants=tenants, nat_clients=nat_clients, prefix=prefix,
                           second_gateway=second_gateway, relay=relay)
        self.radius_users = dict(DEFAULT_RADIUS_USERS if radius_users is None
                                 else radius_users)
        self.isthmusd_config = isthmusd_config or {}
        self.procs = ProcSet()
        self.gw = None      # Isthmusd
        self.api = None     # operator Api
        self.radius = None  # FreeRadius
        self.tenants = {}
        self.gw2 = None      # the second gateway's Isthmusd (second_gateway=True)
        self.api2 = None
        self.radius2 = None
        self.tenants2 = {}
        self.clients = []
        self._seq = 0

    # -- life ---------------------------------------------------------------
    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    def start(self):
        """Builds the namespaces and starts isthmusd with an operator token."""
        self.topo.build()
        cfg = {"daemon": {"log_level": "debug"}}
        for section, keys in self.isthmusd_config.items():
            cfg.setdefault(section, {}).update(keys)
        self.gw = Isthmusd(self.procs, os.path.join(self.workdir, "isthmusd"),
                           name="isthmusd", netns=self.topo.gw, config=cfg)
        self.api = operator_client(self.gw)  # issues the token, then starts
        if self.topo.gw2:
            self.gw2 = Isthmusd(self.procs, os.path.join(self.workdir, "isthmusd2"),
                                name="isthmusd2", netns=self.topo.gw2, config=cfg)
            self.api2 = operator_client(self.gw2)
        return self

    def close(self):
        """Stops clients, FreeRADIUS and isthmusd (asserting a clean stop),
        deletes the namespaces."""
        problems = []
        for c in self.clients:
            try:
                c.stop()
            except Exception as e:  # keep tearing down
                problems.append(f"client {c.name}: {e}")
        self.clients.clear()
        for radius in (self.radius, self.radius2):
            if radius:
                radius.stop()
        for gw in (self.gw, self.gw2):
            if gw and gw.running():
                try:
                    gw.stop()
                except AssertionError as e:
                    problems.append(str(e))
        self.procs.stop_all()
        self.topo.cleanup()
        assert not problems, "\n".join(problems)

    # -- provisioning through the API ---------------------------------------
    def tenant(self, t, *, realms=None, users=None, server_key="ecdsa-p256",
               ca_key="ecdsa-p256", radius=None, policy=None, enabled=True,
               gateway=1):
        """Provisions tenant t through the API and returns a Tenant.

        gateway=2: on the second gateway, through its own API (it has its
        own tenant CA, which clients made afterwards trust too).

        users: {username: extra UserCreate fields}; radius: a list of
        RadiusServerCreate bodies (default: the rig's FreeRADIUS);
        policy: fields merged into the default policy (pools, DNS and
        routes of tenant t are set unless given).
        """
        tid = tenant_id(t)
        second = gateway == 2
        api = self.api2 if second else self.api
        realms = list(realms) if realms is not None else [f"t{t}.example"]
        lan = self.topo.gw2_lan_ns(t) if second else self.topo.lan_ns(t)
        body = {"id": tid, "name": f"Tenant {t}", "enabled": enabled,
                "gateway_ids": [T.tenant_fqdn(t)], "realms": realms,
                "network": {"ifname": f"ik-t{t}", "netns": lan, "mtu": 1400},
                "ca_key_type": ca_key}
        api.must("POST", T_PATH, body, status=201)
        pol = {"pools": [T.tenant_pool(t)], "dns_servers": tenant_dns(t),
               "split_routes": [T.tenant_net(t)]}
        pol.update(policy or {})
        api.must("PATCH", f"{T_PATH}/{tid}/policies/default", pol)
        for srv in (radius if radius is not None else [self.radius_body()]):
            api.must("POST", f"{T_PATH}/{tid}/radius-servers", srv, status=201)
        cert = api.must("POST", f"{T_PATH}/{tid}/certificates/server",
                        {"key_type": server_key}, status=201).json
        ca_pem = api.must("GET", f"{T_PATH}/{tid}/ca.pem").text
        ca_path = os.path.join(self.workdir, f"{tid}{'-gw2' if second else ''}-ca.pem")
        with open(ca_path, "w") as f:
            f.write(ca_pem)
        ten = Tenant(t, tid, T.tenant_fqdn(t), realms, T.tenant_pool(t),
                     T.tenant_net(t), tenant_dns(t), ca_path, cert)
        if second:
            self.tenants2[t] = ten
            for name, extra in (users or {}).items():
                api.must("POST", f"{T_PATH}/{tid}/users", dict({"username": name}, **extra),
                         status=201)
            return ten
        self.tenants[t] = ten
        for name, extra in (users or {}).items():
            self.add_user(t, name, **extra)
        return ten

    def radius_body(self, name="primary", port=RADIUS_AUTH_PORT, **extra):
        """A RadiusServerCreate body for the rig's FreeRADIUS (or, with
        another port, for a server that is not there)."""
        body = {"name": name, "host": "127.0.0.1", "auth_port": port,
                "acct_port": 0, "secret": RADIUS_SECRET}
        body.update(extra)
        return body

    def add_user(self, t, username, **fields):
        tid = tenant_id(t)
        body = {"username": username}
        body.update(fields)
        u = self.api.must("POST", f"{T_PATH}/{tid}/users", body, status=201).json
        self.tenants[t].users[username] = u
        return u

    def patch(self, path, body):
        return self.api.must("PATCH", path, body).json

    def wait_session(self, t, user, timeout=5.0):
        """The live session of user in tenant t as GET /sessions lists it,
        once it is there (the gateway publishes it just after IKE_AUTH)."""
        def listed():
            items = self.api.must("GET", f"/api/v1/tenants/t{t}/sessions?user={user}")["items"]
            return items[0] if items else None
        return wait_for(listed, timeout, interval=0.1, what=f"{user}'s session in /sessions")

    def set_user(self, t, username, **fields):
        return self.patch(f"{T_PATH}/{tenant_id(t)}/users/{username}", fields)

    def set_tenant(self, t, **fields):
        return self.patch(f"{T_PATH}/{tenant_id(t)}", fields)

    def set_policy(self, t, name="default", **fields):
        return self.patch(f"{T_PATH}/{tenant_id(t)}/policies/{name}", fields)

    def client_cert(self, t, username, key_type="ecdsa-p256"):
        """Issues username's client certificate (PEM) through the API and
        writes it; returns (certificate object, cert path, key path)."""
        tid = tenant_id(t)
        r = self.api.must("POST", f"{T_PATH}/{tid}/certificates/client",
                          {"username": username, "format": "pem",
                           "key_type": key_type}, status=201)
        base = os.path.join(self.workdir, f"{tid}-{username}-{r['certificate']['id']}")
        with open(base + ".pem", "w") as f:
            f.write(r["certificate_pem"])
        with open(base + ".key", "w") as f:
            f.write(r["private_key_pem"])
        os.chmod(base + ".key", 0o600)
        return r["certificate"], base + ".pem", base + ".key"

    def revoke(self, t, cert_id, reason="keyCompromise"):
        return self.api.must("POST", f"{T_PATH}/{tenant_id(t)}/certificates/{cert_id}/revoke",
                             {"reason": reason}).json

    # -- the gateway's configuration snapshot ----------------------------------
    _TS = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z"

    @classmethod
    def _when(cls, line_ts):
        return datetime.datetime.strptime(line_ts, "%Y-%m-%dT%H:%M:%S.%f").timestamp()

    def wait_config(self, timeout=10.0, gw=None):
        """Waits until the IKE engine uses a snapshot that holds every API
        change made so far.

        The API logs "configuration of tenant X changed" after each commit
        and kicks the snapshot loader, which rebuilds once changes have
        stopped for 100 ms; the engine then logs "configuration snapshot N
        in use". A rebuild that began before the last change ends within a
        few milliseconds of it, so the first "in use" line at least 100 ms
        after the last change line is a snapshot that includes it.
        """
        gw = gw or self.gw
        text = gw.log()
        kicks = re.findall(self._TS + r" \S+ +daemon +configuration of tenant \S+ changed",
                           text)
        if not kicks:
            return None
        last = self._when(kicks[-1])

        def fresh():
            for ts, gen in re.findall(self._TS + r" \S+ +ike +configuration snapshot (\d+) in use",
                                      gw.log()):
                if self._when(ts) >= last + 0.099:
                    return int(gen)
            return None
        return wait_for(fresh, timeout, interval=0.02, what="a configuration snapshot "
                        "with the last API change")

    # -- FreeRADIUS -----------------------------------------------------------
    def start_radius(self, trust=None, tls_server_id=RADIUS_SERVER_ID):
        """Starts FreeRADIUS in the gateway namespace with the rig's users.

        For EAP-TLS it trusts the CAs of the tenants numbered in trust
        (default: every tenant provisioned so far), and its own server
        certificate (from its own CA, which clients trust) names
        tls_server_id: a strongSwan client checks it against the gateway
        identity, unless told another with aaa_id, which strongSwan 5.9.8
        then demands already of the gateway's certificate round."""
        users = {name: User(pw) for name, pw in self.radius_users.items()}
        self.radius = FreeRadius(os.path.join(self.workdir, "radius"), RADIUS_SECRET,
                                 users, auth_port=RADIUS_AUTH_PORT,
                                 acct_port=RADIUS_ACCT_PORT, netns=self.topo.gw)
        self.radius.configure()
        if tls_server_id != RADIUS_SERVER_ID:
            make_certs(os.path.dirname(self.radius.certs["ca"]), server_cn=tls_server_id)
        # The client trusts FreeRADIUS's own CA (its EAP-TLS server certificate).
        self.radius_ca = os.path.join(self.workdir, "radius-ca.pem")
        shutil.copyfile(self.radius.certs["ca"], self.radius_ca)
        with open(self.radius.certs["ca"], "a") as f:
            for t, ten in self.tenants.items():
                if trust is None or t in trust:
                    with open(ten.ca_path) as ca:
                        f.write(ca.read())
        self.radius.start()
        if self.gw2:
            self.radius2 = FreeRadius(os.path.join(self.workdir, "radius2"), RADIUS_SECRET,
                                      users, auth_port=RADIUS_AUTH_PORT,
                                      acct_port=RADIUS_ACCT_PORT, netns=self.topo.gw2)
            self.radius2.configure()
            self.radius2.start()
        return self.radius

    def drop_udp(self, port):
        """Makes a RADIUS server at 127.0.0.1:port of the gateway namespace
        "down and silent": its requests are dropped (no port unreachable)."""
        nft = ("table inet ikdrop%d {\n chain input {\n"
               "  type filter hook input priority filter; policy accept;\n"
               "  udp dport %d drop\n }\n}\n") % (port, port)
        subprocess.run(["ip", "netns", "exec", self.topo.gw, "nft", "-f", "-"], input=nft,
                       text=True, check=True, capture_output=True, timeout=20)

    # -- the gateway's log --------------------------------------------------------
    def mark(self):
        """An offset into the gateway log (for wait_log/log_since)."""
        return self.gw.log_size()

    def wait_log(self, pattern, start=0, timeout=10.0):
        return self.gw.wait_log(pattern, timeout=timeout, start=start)

    def log_since(self, start):
        return self.gw.log()[start:]

    # -- clients --------------------------------------------------------------
    def client(self, name=None, ns=None, **kw):
        """A started VpnClient in namespace ns (default: client namespace 0)
        trusting every tenant CA and FreeRADIUS's CA. Connections are added
        with add_eap()/add_cert() or Charon.add_client, then load()."""
        self._seq += 1
        name = name or f"c{self._seq}"
        ns = ns or self.topo.client_ns(0)
        busy = [c.name for c in self.clients if c.netns == ns and c.alive()]
        if busy:  # both would want UDP 500 and 4500 of the namespace
            raise RuntimeError(f"client {busy[0]} still runs in {ns}: disconnect() it first")
        c = VpnClient(os.path.join(self.workdir, "clients", f"{name}-{self._seq}"),
                      ns, name=name, **kw)
        for ten in list(self.tenants.values()) + list(self.tenants2.values()):
            c.add_ca(ten.ca_path)
        if self.radius:
            c.add_ca(self.radius_ca)
        self.clients.append(c)
        c.start()
        return c

    def add_eap(self, c, t, identity, password=None, conn="vpn", auth="eap-mschapv2",
                remote_id=None, remote_addr=T.GW_ADDR, **kw):
        """A connection of client c to tenant t's gateway identity with EAP
        (password from the rig's RADIUS users unless given)."""
        if password is None:
            password = self.radius_users[identity]
        kw.setdefault("remote_ts", [T.tenant_net(t)])
        return c.add_client(conn, remote_addr=remote_addr,
                            remote_id=remote_id or T.tenant_fqdn(t), auth=auth,
                            identity=identity, secret=password, **kw)

    def add_eap_tls(self, c, t, identity, cert, key, conn="vpn", **kw):
        """EAP-TLS to FreeRADIUS with a certificate (FreeRADIUS must trust
        its issuer: start_radius() after the tenant exists; the client
        checks FreeRADIUS's certificate against tenant t's gateway identity:
        start_radius(tls_server_id=...))."""
        kw.setdefault("remote_ts", [T.tenant_net(t)])
        return c.add_client(conn, remote_addr=T.GW_ADDR, remote_id=T.tenant_fqdn(t),
                            auth="eap-tls", identity=identity, cert=cert, key=key, **kw)

    def add_cert(self, c, t, identity, cert, key, conn="vpn", **kw):
        """Certificate authentication (no EAP) with the given certificate."""
        kw.setdefault("remote_ts", [T.tenant_net(t)])
        return c.add_client(conn, remote_addr=T.GW_ADDR, remote_id=T.tenant_fqdn(t),
                            auth="pubkey", identity=identity, cert=cert, key=key, **kw)

    def eap_client(self, t, identity, password=None, ns=None, name=None, **kw):
        """A client with one EAP-MSCHAPv2 connection "vpn" (child "net"), loaded."""
        c = self.client(name or identity.split("@")[0], ns=ns)
        self.add_eap(c, t, identity, password, **kw)
        c.load()
        return c

    def disconnect(self, c):
        """Client c ends its IKE SAs (a Delete the gateway answers, which
        releases their addresses) and stops."""
        if c.alive():
            try:
                for s in c.list_sas():
                    c.terminate(s["name"], timeout=5)
            finally:
                c.stop()

    def reset(self):
        """After a test: every client disconnects and stops."""
        for c in self.clients:
            try:
                self.disconnect(c)
            except Exception:
                c.stop()
        self.clients.clear()


def run_parallel(fns, timeout=60.0):
    """Runs the callables in threads at once; returns their results in
    order (an exception is returned in place of a result)."""
    results = [None] * len(fns)
    start = threading.Barrier(len(fns))

    def wrap(i, fn):
        try:
            start.wait(timeout=10)
            results[i] = fn()
        except BaseException as e:  # reported to the caller
            results[i] = e
    threads = [threading.Thread(target=wrap, args=(i, fn), daemon=True)
               for i, fn in enumerate(fns)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + timeout
    for th in threads:
        th.join(max(0.1, deadline - time.monotonic()))
    if any(th.is_alive() for th in threads):
        raise TimeoutError(f"parallel calls still running after {timeout}s")
    return results
