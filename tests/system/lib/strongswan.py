"""strongSwan (charon) as a client or a gateway inside a network namespace.

One `Charon` object is one charon daemon:

- it runs in a network namespace with a private /run (charon's pid file path
  is compiled in), from a generated strongswan.conf with an explicit plugin
  list (never `resolve`, never `updown`) and kernel-libipsec for ESP, since
  this kernel has no XFRM ESP;
- it logs to a file with millisecond timestamps (`wait_log` waits on it);
- its vici socket lives in a short folder outside the namespace, so the test
  process talks to it directly (`initiate`, `terminate`, `list_sas` speak
  the vici protocol; `load` runs `swanctl --load-all` on the generated
  swanctl.conf);
- it is stopped by PID through tests/system/lib/proc.py.

Client use (what the Isthmus tests need):

    c = Charon(workdir / "alice", netns=topo.client_ns(0), name="alice")
    c.add_ca(pki.ca_cert)
    c.add_client("home", remote_addr=GW, remote_id="vpn.t1.example",
                 auth="eap-mschapv2", identity="alice", secret="alice-secret",
                 remote_ts=["10.1.0.0/16"])
    c.start(); c.load()
    ok, log = c.initiate("home", "net", timeout=10)
    sa = c.list_sas()[0]        # dict, see parse_ike_sa()
    c.terminate("home"); c.stop()

Gateway use: `add_gateway(...)`, `add_eap_user(...)` or `set_radius(...)`.
With kernel-libipsec, decrypted packets leave charon's TUN device `ipsec0`
and the namespace forwards them (Topo sets ip_forward); charon routes each
client's virtual IP back into ipsec0 itself (table 220, `10.1.128.1 dev
ipsec0 src 10.1.0.1`, found by testing), so nothing else is needed;
`route_pools_via_tun()` adds a route for whole pools if a test wants one.
See tests/system/test_strongswan_rig.py and bench/esp-rig/rig.py.

`Pki` makes a CA, server and client certificates with strongSwan's `pki`.
"""
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from typing import NamedTuple

from .proc import Proc, wait_for

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = shutil.which("swanctl") or "/usr/sbin/swanctl"
PKI = shutil.which("pki") or "/usr/bin/pki"
PLUGIN_DIR = "/usr/lib/ipsec/plugins"

# Order matters: the first plugin that offers an algorithm serves it, so
# openssl (AES-NI, GCM) comes before the portable ones, which stay as
# fallbacks (gcrypt has MD4 and DES for MSCHAPv2 when OpenSSL 3 hides them).
CLIENT_PLUGINS = (
    "random nonce openssl gcrypt pem pkcs1 pkcs8 x509 pubkey revocation "
    "constraints sha1 sha2 md5 hmac gmp curve25519 kdf gcm chapoly aes ccm "
    "ctr xcbc cmac kernel-libipsec kernel-netlink socket-default vici "
    "eap-identity eap-mschapv2 eap-md5 eap-tls").split()
GATEWAY_PLUGINS = CLIENT_PLUGINS + ["eap-radius"]
NEVER_LOAD = {"resolve", "updown"}

# File log levels: enough to follow every exchange; `enc` stays at 1 because
# level 2 writes tens of MB per second and wrecks throughput.
LOG_LEVELS = {"default": 1, "ike": 1, "cfg": 1, "knl": 1, "net": 1,
              "enc": 1, "chd": 1, "lib": 1, "esp": 1, "dmn": 1, "mgr": 1}


def installed():
    """True when charon, swanctl and pki are present (tests skip otherwise)."""
    return all(os.access(p, os.X_OK) for p in (CHARON, SWANCTL, PKI))


def plugin_available(name):
    if name in ("charon",):
        return True
    return os.path.exists(f"{PLUGIN_DIR}/libstrongswan-{name}.so")


def missing_plugins(names):
    """The plugins of `names` that are not installed on this machine."""
    return [n for n in names if not plugin_available(n)]


# ---------------------------------------------------------------------------
# strongswan.conf / swanctl.conf syntax

_PLAIN = re.compile(r"^[A-Za-z0-9_.:/%@*+\-]+$")


def _value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    s = str(v)
    if _PLAIN.match(s):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_conf(tree, indent=0):
    """Renders nested dicts in strongSwan's settings syntax (None is left out)."""
    pad = "    " * indent
    out = []
    for key, val in tree.items():
        if val is None:
            continue
        if isinstance(val, dict):
            out.append(f"{pad}{key} {{\n{render_conf(val, indent + 1)}{pad}}}\n")
        elif key == "load":  # the plugin list is space separated
            out.append(f"{pad}{key} = {' '.join(val)}\n")
        else:
            out.append(f"{pad}{key} = {_value(val)}\n")
    return "".join(out)


# ---------------------------------------------------------------------------
# vici: the control protocol of charon (length-prefixed packets of typed
# elements; see the vici plugin's README in strongSwan)

CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN = 0, 1, 2
EVENT_REGISTER, EVENT_UNREGISTER, EVENT_CONFIRM, EVENT_UNKNOWN, EVENT = 3, 4, 5, 6, 7
SECTION_START, SECTION_END, KEY_VALUE, LIST_START, LIST_ITEM, LIST_END = 1, 2, 3, 4, 5, 6


class ViciError(Exception):
    pass


def _name(s):
    b = s.encode()
    if len(b) > 255:
        raise ViciError(f"vici name too long: {s!r}")
    return bytes([len(b)]) + b


def _blob(v):
    b = v if isinstance(v, bytes) else str(v).encode()
    if len(b) > 65535:
        raise ViciError("vici value too long")
    return struct.pack("!H", len(b)) + b


def vici_encode(msg):
    out = bytearray()
    for k, v in msg.items():
        if isinstance(v, dict):
            out += bytes([SECTION_START]) + _name(k) + vici_encode(v)
            out += bytes([SECTION_END])
        elif isinstance(v, (list, tuple)):
            out += bytes([LIST_START]) + _name(k)
            for item in v:
                out += bytes([LIST_ITEM]) + _blob(item)
            out += bytes([LIST_END])
        else:
            if isinstance(v, bool):
                v = "yes" if v else "no"
            out += bytes([KEY_VALUE]) + _name(k) + _blob(v)
    return bytes(out)


def vici_decode(data):
    """Decodes a message into nested dicts; values and list items as str."""
    root = {}
    stack = [root]
    cur_list = None
    i = 0

    def need(n):
        if i + n > len(data):
            raise ViciError("truncated vici message")

    while i < len(data):
        t = data[i]
        i += 1
        if t in (SECTION_START, KEY_VALUE, LIST_START):
            need(1)
            n = data[i]
            need(1 + n)
            name = data[i + 1:i + 1 + n].decode("utf-8", "replace")
            i += 1 + n
            if t == SECTION_START:
                sec = {}
                stack[-1][name] = sec
                stack.append(sec)
            elif t == LIST_START:
                cur_list = []
                stack[-1][name] = cur_list
            else:
                need(2)
                (ln,) = struct.unpack_from("!H", data, i)
                need(2 + ln)
                stack[-1][name] = data[i + 2:i + 2 + ln].decode("utf-8", "replace")
                i += 2 + ln
        elif t == LIST_ITEM:
            if cur_list is None:
                raise ViciError("list item outside a list")
            need(2)
            (ln,) = struct.unpack_from("!H", data, i)
            need(2 + ln)
            cur_list.append(data[i + 2:i + 2 + ln].decode("utf-8", "replace"))
            i += 2 + ln
        elif t == LIST_END:
            cur_list = None
        elif t == SECTION_END:
            if len(stack) < 2:
                raise ViciError("unbalanced section end")
            stack.pop()
        else:
            raise ViciError(f"unknown vici element type {t}")
    return root


class Vici:
    """One connection to charon's vici socket."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, ptype, name=None, msg=None):
        body = bytes([ptype])
        if name is not None:
            body += _name(name)
        if msg:
            body += vici_encode(msg)
        self.sock.sendall(struct.pack("!I", len(body)) + body)

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ViciError("vici connection closed")
            buf += chunk
        return bytes(buf)

    def _recv(self):
        (ln,) = struct.unpack("!I", self._recv_exact(4))
        data = self._recv_exact(ln)
        ptype = data[0]
        i = 1
        name = None
        if ptype == EVENT:
            n = data[1]
            name = data[2:2 + n].decode()
            i = 2 + n
        return ptype, name, vici_decode(data[i:])

    def _event(self, ptype, name):
        self._send(ptype, name)
        while True:
            t, _, _ = self._recv()
            if t == EVENT_CONFIRM:
                return
            if t == EVENT_UNKNOWN:
                raise ViciError(f"unknown vici event {name}")
            # an event of a previous registration may still arrive: skip it

    def request(self, cmd, msg=None):
        self._send(CMD_REQUEST, cmd, msg)
        while True:
            t, _, res = self._recv()
            if t == CMD_RESPONSE:
                return res
            if t == CMD_UNKNOWN:
                raise ViciError(f"unknown vici command {cmd}")

    def streamed(self, cmd, event, msg=None, on_event=None):
        """Runs cmd while collecting `event`s; returns (response, events)."""
        self._event(EVENT_REGISTER, event)
        events = []
        try:
            self._send(CMD_REQUEST, cmd, msg)
            while True:
                t, name, res = self._recv()
                if t == EVENT and name == event:
                    events.append(res)
                    if on_event:
                        on_event(res)
                elif t == CMD_RESPONSE:
                    break
                elif t == CMD_UNKNOWN:
                    raise ViciError(f"unknown vici command {cmd}")
        finally:
            self._event(EVENT_UNREGISTER, event)
        return res, events


# ---------------------------------------------------------------------------
# list-sas into plain dicts

_INT_KEYS = {"uniqueid", "local-port", "remote-port", "encr-keysize",
             "established", "rekey-time", "reauth-time", "reqid",
             "bytes-in", "packets-in", "bytes-out", "packets-out",
             "use-in", "use-out", "life-time", "install-time",
             "if-id-in", "if-id-out", "mark-in", "mark-out"}


def _clean(d):
    out = {}
    for k, v in d.items():
        key = k.replace("-", "_")
        if k in _INT_KEYS and isinstance(v, str):
            try:
                v = int(v, 0) if k.startswith("mark") else int(v)
            except ValueError:
                pass
        out[key] = v
    return out


def parse_child_sa(name, raw):
    """A CHILD_SA from list-sas: state, SPIs (ints), algorithms, counters, TS."""
    c = _clean({k: v for k, v in raw.items() if not isinstance(v, dict)})
    c["key"] = name
    c.setdefault("name", name)
    for k in ("spi_in", "spi_out", "cpi_in", "cpi_out"):
        if isinstance(c.get(k), str):
            c[k] = int(c[k], 16)
    for k in ("bytes_in", "packets_in", "bytes_out", "packets_out"):
        c.setdefault(k, 0)
    c["local_ts"] = list(raw.get("local-ts", []))
    c["remote_ts"] = list(raw.get("remote-ts", []))
    c["installed"] = c.get("state") == "INSTALLED"
    c["udp_encap"] = c.get("encap") == "yes"
    return c


def parse_ike_sa(name, raw):
    """An IKE SA from list-sas as a dict with snake_case keys.

    Keys (when charon reports them): name, uniqueid, state, version,
    local_host, local_port, local_id, remote_host, remote_port, remote_id,
    remote_eap_id, initiator (bool), initiator_spi, responder_spi,
    nat_local, nat_remote, nat_fake, nat_any (bools), encr_alg,
    encr_keysize, integ_alg, prf_alg, dh_group, established, rekey_time,
    local_vips, remote_vips (lists), children (list of parse_child_sa dicts),
    raw (the vici message).
    """
    s = _clean({k: v for k, v in raw.items() if not isinstance(v, dict)})
    s["name"] = name
    for k in ("initiator", "nat_local", "nat_remote", "nat_fake", "nat_any"):
        s[k] = s.get(k) == "yes"
    s["local_vips"] = list(raw.get("local-vips", []))
    s["remote_vips"] = list(raw.get("remote-vips", []))
    s["children"] = [parse_child_sa(k, v)
                     for k, v in raw.get("child-sas", {}).items()]
    s["raw"] = raw
    return s


class Initiated(NamedTuple):
    ok: bool
    log: str


# ---------------------------------------------------------------------------
# the daemon

class Charon:
    """One charon in a network namespace, as client (initiator) or gateway."""

    def __init__(self, workdir, netns, name="charon", plugins=None,
                 log_levels=None, settings=None, retransmit=(1.0, 1.4, 3)):
        self.workdir = os.path.abspath(str(workdir))
        self.netns = netns
        self.name = name
        self.gateway = False
        self.plugins = list(plugins) if plugins else None
        self.log_levels = dict(LOG_LEVELS, **(log_levels or {}))
        self.settings = settings or {}  # merged into the `charon` section
        self.retransmit = retransmit
        self.connections = {}
        self.pools = {}
        self.secrets = {}
        self.radius = None
        self.proc = None
        self.swanctl_dir = os.path.join(self.workdir, "swanctl")
        self.conf_path = os.path.join(self.workdir, "strongswan.conf")
        self.log_path = os.path.join(self.workdir, "charon.log")
        self.out_path = os.path.join(self.workdir, "charon.out")
        # sun_path holds 108 bytes: the socket lives in a short folder.
        self._sockdir = tempfile.mkdtemp(prefix="swv")
        self.vici_path = os.path.join(self._sockdir, "charon.vici")
        for sub in ("x509ca", "x509", "x509ocsp", "x509aa", "x509ac",
                    "x509crl", "private", "pubkey", "rsa", "ecdsa", "bliss",
                    "pkcs8", "pkcs12"):
            os.makedirs(os.path.join(self.swanctl_dir, sub), exist_ok=True)

    # -- credentials -------------------------------------------------------
    def _copy(self, src, sub, as_name=None):
        dst = os.path.join(self.swanctl_dir, sub, as_name or os.path.basename(src))
        shutil.copyfile(src, dst)
        return os.path.basename(dst)

    def add_ca(self, cert_path):
        """Trusts a CA certificate (copied into x509ca/)."""
        return self._copy(cert_path, "x509ca")

    def add_cert(self, cert_path, key_path=None, as_name=None):
        """An end-entity certificate in x509/ (and its key in private/)."""
        base = as_name or os.path.basename(cert_path)
        name = self._copy(cert_path, "x509", base)
        if key_path:
            self._copy(key_path, "private", base)
        return name

    # -- connections -------------------------------------------------------
    def add_conn(self, name, conn):
        """Adds a raw swanctl.conf connection (nested dicts)."""
        self.connections[name] = conn
        return conn

    def add_secret(self, name, section):
        self.secrets[name] = section

    def add_eap_user(self, identity, secret):
        """An EAP secret (client's own, or a user a local-EAP gateway knows)."""
        key = "eap-" + re.sub(r"[^A-Za-z0-9]", "_", identity)
        self.secrets[key] = {"id": identity, "secret": secret}

    def add_client(self, name, *, remote_addr, remote_id, auth="eap-mschapv2",
                   identity=None, eap_id=None, secret=None, cert=None,
                   key=None, vips=("0.0.0.0",), proposals=None,
                   esp_proposals=None, remote_ts=("0.0.0.0/0",),
                   local_ts=None, child="net", mobike=True, dpd_delay=None,
                   dpd_timeout=None, dpd_action=None, rekey_time=None,
                   reauth_time=None, over_time=None, rand_time=None,
                   child_rekey_time=None, child_life_time=None,
                   child_rand_time=None, child_rekey_bytes=None,
                   child_rekey_packets=None, local_addrs=None,
                   remote_port=None, fragmentation=None, send_certreq=None,
                   keyingtries=1, send_cert="always", extra=None,
                   child_extra=None):
        """A connection that initiates to a gateway.

        auth: "eap-mschapv2", "eap-md5" (identity + secret), "eap-tls",
        "pubkey" (cert + key paths; identity must be in the certificate).
        Lifetimes are strongSwan durations ("10s", "1h") or seconds.
        """
        if auth not in ("eap-mschapv2", "eap-md5", "eap-tls", "pubkey"):
            raise ValueError(f"unsupported client auth {auth}")
        local = {"auth": auth, "id": identity}
        if auth in ("eap-mschapv2", "eap-md5"):
            if identity is None or secret is None:
                raise ValueError(f"{auth} needs identity and secret")
            local["eap_id"] = eap_id or identity
            self.add_eap_user(eap_id or identity, secret)
        else:
            if not (cert and key):
                raise ValueError(f"{auth} needs cert and key")
            local["certs"] = self.add_cert(cert, key, as_name=f"{name}.pem")
            if eap_id:
                local["eap_id"] = eap_id
        children = {child: dict({
            "remote_ts": list(remote_ts),
            "local_ts": list(local_ts) if local_ts else None,
            "esp_proposals": esp_proposals,
            "rekey_time": child_rekey_time,
            "life_time": child_life_time,
            "rand_time": child_rand_time,
            "rekey_bytes": child_rekey_bytes,
            "rekey_packets": child_rekey_packets,
            "dpd_action": dpd_action,
        }, **(child_extra or {}))}
        conn = dict({
            "version": 2,
            "remote_addrs": remote_addr,
            "remote_port": remote_port,
            "local_addrs": local_addrs,
            "vips": list(vips) if vips else None,
            "proposals": proposals,
            "mobike": mobike,
            "dpd_delay": dpd_delay,
            "dpd_timeout": dpd_timeout,
            "rekey_time": rekey_time,
            "reauth_time": reauth_time,
            "over_time": over_time,
            "rand_time": rand_time,
            "fragmentation": fragmentation,
            "send_certreq": send_certreq,
            # "always" (the default here) sends the certificate whether or
            # not the gateway asked, like the built-in Windows/macOS clients
            "send_cert": send_cert if auth in ("pubkey", "eap-tls") else None,
            "keyingtries": keyingtries,
            "local": local,
            "remote": {"auth": "pubkey", "id": remote_id},
            "children": children,
        }, **(extra or {}))
        return self.add_conn(name, conn)

    def add_gateway(self, name="rw", *, local_addrs, server_id, cert, key,
                    client_auth="eap-mschapv2", pool="pool0",
                    pool_addrs=("10.1.128.0/24",), dns=None,
                    local_ts=("10.1.0.0/16",), proposals=None,
                    esp_proposals=None, child="net", mobike=True,
                    fragmentation=True, dpd_delay=None, extra=None,
                    child_extra=None):
        """A responder for road warriors.

        client_auth: "eap-mschapv2", "eap-md5", "eap-tls" (checked locally:
        users from add_eap_user, client certs from the CAs), "eap-radius"
        (relayed to set_radius()'s server) or "pubkey".
        """
        self.gateway = True
        remote = {"auth": client_auth, "id": "%any"}
        if client_auth.startswith("eap"):
            remote["eap_id"] = "%any"
        if pool:
            self.pools[pool] = {"addrs": list(pool_addrs),
                                "dns": list(dns) if dns else None}
        conn = dict({
            "version": 2,
            "local_addrs": local_addrs,
            "pools": pool,
            "proposals": proposals,
            "mobike": mobike,
            "fragmentation": fragmentation,
            "send_certreq": client_auth == "pubkey",
            "dpd_delay": dpd_delay,
            "local": {"auth": "pubkey", "id": server_id,
                      "certs": self.add_cert(cert, key, as_name=f"{name}-server.pem")},
            "remote": remote,
            "children": {child: dict({"local_ts": list(local_ts),
                                      "esp_proposals": esp_proposals},
                                     **(child_extra or {}))},
        }, **(extra or {}))
        return self.add_conn(name, conn)

    def set_radius(self, address, secret, port=1812, acct_port=1813,
                   accounting=False, nas_identifier=None):
        """Points eap-radius at one RADIUS server (gateway mode)."""
        self.radius = {"address": address, "secret": secret,
                       "auth_port": port, "acct_port": acct_port,
                       "accounting": accounting,
                       "nas_identifier": nas_identifier}

    # -- configuration files ------------------------------------------------
    def _plugin_list(self):
        wanted = self.plugins or (GATEWAY_PLUGINS if self.gateway else CLIENT_PLUGINS)
        bad = NEVER_LOAD.intersection(wanted)
        if bad:
            raise ValueError(f"plugins never to load: {sorted(bad)}")
        return [p for p in wanted if plugin_available(p)]

    def strongswan_conf(self):
        tries_timeout, base, tries = self.retransmit
        log = {"path": self.log_path, "time_format": "%H:%M:%S",
               "time_add_ms": True, "ike_name": True, "append": False,
               "flush_line": True}
        log.update(self.log_levels)
        charon = {
            "load": self._plugin_list(),
            "retransmit_timeout": tries_timeout,
            "retransmit_base": base,
            "retransmit_tries": tries,
            "syslog": {"daemon": {"default": -1}},
            "filelog": {"charon": log},
            "plugins": {"vici": {"socket": f"unix://{self.vici_path}"}},
        }
        if self.radius:
            r = self.radius
            charon["plugins"]["eap-radius"] = {
                "accounting": r["accounting"],
                "nas_identifier": r["nas_identifier"],
                "servers": {"r0": {"address": r["address"],
                                   "secret": r["secret"],
                                   "auth_port": r["auth_port"],
                                   "acct_port": r["acct_port"]}},
            }
        for k, v in self.settings.items():
            if isinstance(v, dict) and isinstance(charon.get(k), dict):
                charon[k] = dict(charon[k], **v)
            else:
                charon[k] = v
        swanctl = {"load": [p for p in ("random nonce openssl pem pkcs1 pkcs8 "
                                        "x509 pubkey gmp curve25519").split()
                            if plugin_available(p)]}
        return render_conf({"charon": charon, "swanctl": swanctl})

    def swanctl_conf(self):
        tree = {"connections": self.connections, "secrets": self.secrets}
        if self.pools:
            tree["pools"] = self.pools
        return render_conf(tree)

    def write_config(self):
        with open(self.conf_path, "w") as f:
            f.write(self.strongswan_conf())
        path = os.path.join(self.swanctl_dir, "swanctl.conf")
        with open(path, "w") as f:
            f.write(self.swanctl_conf())
        os.chmod(path, 0o600)

    # -- process -------------------------------------------------------------
    def start(self, timeout=10.0):
        """Writes the configuration and starts charon; waits for vici."""
        self.write_config()
        if os.path.exists(self.vici_path):
            os.unlink(self.vici_path)
        script = ("mount -t tmpfs -o mode=0755 swrun /run && "
                  f"exec {CHARON}")
        self.proc = Proc(["unshare", "-m", "--propagation", "private",
                          "sh", "-c", script], self.out_path,
                         env={"STRONGSWAN_CONF": self.conf_path},
                         netns=self.netns)
        self.wait_log(r"\[JOB\] spawning \d+ worker threads", timeout)
        wait_for(lambda: self._vici_ok(), timeout, what=f"{self.name} vici socket")
        return self

    def _vici_ok(self):
        if not self.alive():
            raise RuntimeError(f"charon {self.name} exited:\n{self.log()[-2000:]}")
        try:
            with Vici(self.vici_path, timeout=2):
                return True
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return bool(self.proc and self.proc.alive())

    def stop(self):
        """Stops charon by its PID; returns its exit code."""
        code = None
        if self.proc:
            code = self.proc.stop()
            self.proc = None
        shutil.rmtree(self._sockdir, ignore_errors=True)
        return code

    def cpu_seconds(self):
        """utime + stime of charon so far, from /proc/<pid>/stat."""
        with open(f"/proc/{self.pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    # -- logs ----------------------------------------------------------------
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        return len(self.log())

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits until charon's log (from offset start) matches; returns match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[start:]
            m = rx.search(text)
            if m:
                return m
            if self.proc and not self.proc.alive():
                raise RuntimeError(f"charon {self.name} exited before /{pattern}/;"
                                   f" log tail:\n{text[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"/{pattern}/ not in {self.log_path} after "
                                   f"{timeout}s; log tail:\n{text[-3000:]}")
            time.sleep(0.05)

    # -- control -------------------------------------------------------------
    def swanctl(self, *args, timeout=30, check=True):
        env = dict(os.environ, STRONGSWAN_CONF=self.conf_path,
                   SWANCTL_DIR=self.swanctl_dir)
        argv = [SWANCTL, *args, "--uri", f"unix://{self.vici_path}"]
        r = subprocess.run(argv, env=env, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"swanctl {' '.join(args)} failed ({r.returncode}):"
                               f"\n{r.stdout}\n{r.stderr}")
        return r

    def load(self):
        """swanctl --load-all: credentials, pools, connections; returns stdout."""
        self.write_config()
        r = self.swanctl("--load-all", "--file",
                         os.path.join(self.swanctl_dir, "swanctl.conf"))
        bad = [ln for ln in (r.stdout + r.stderr).splitlines()
               if "failed" in ln and not ln.startswith("opening directory")]
        if bad:
            raise RuntimeError(f"swanctl --load-all reported a failure:\n"
                               f"{r.stdout}\n{r.stderr}")
        return r.stdout

    def vici(self, timeout=30.0):
        return Vici(self.vici_path, timeout=timeout)

    def initiate(self, conn, child=None, timeout=10.0, loglevel=1):
        """Initiates child (or the IKE SA only) of conn; waits for it.

        Returns Initiated(ok, log): log holds charon's control-log lines of
        this initiation and, on failure, vici's error message.
        """
        msg = {"ike": conn, "timeout": int(timeout * 1000),
               "init-limits": "no", "loglevel": loglevel}
        if child:
            msg["child"] = child
        lines = []
        with self.vici(timeout=timeout + 5) as v:
            res, _ = v.streamed("initiate", "control-log", msg,
                                on_event=lambda e: lines.append(e.get("msg", "")))
        ok = res.get("success") == "yes"
        if not ok:
            lines.append(f"initiate failed: {res.get('errmsg', '?')}")
        return Initiated(ok, "\n".join(lines))

    def terminate(self, ike, timeout=10.0, force=False):
        """Sends a Delete for IKE SA `ike` (a connection name); True on success."""
        msg = {"ike": ike, "timeout": int(timeout * 1000), "loglevel": 1}
        if force:
            msg["force"] = "yes"
        with self.vici(timeout=timeout + 5) as v:
            res, _ = v.streamed("terminate", "control-log", msg)
        return res.get("success") == "yes"

    def list_sas(self, ike=None, noblock=False):
        """Every IKE SA (or those of connection `ike`) as parse_ike_sa dicts.

        noblock=True skips SAs a charon thread holds at that moment (e.g.
        just after sending the last IKE_AUTH response): then an SA that
        exists can be missing from the list, so the default waits for them.
        """
        msg = {"noblock": "yes"} if noblock else {}
        if ike:
            msg["ike"] = ike
        with self.vici() as v:
            _, events = v.streamed("list-sas", "list-sa", msg)
        out = []
        for ev in events:
            for name, raw in ev.items():
                if isinstance(raw, dict):
                    out.append(parse_ike_sa(name, raw))
        return out

    def wait_sa(self, predicate, timeout=10.0, what="SA"):
        """Polls list_sas() until predicate(list) is truthy; returns its value."""
        return wait_for(lambda: predicate(self.list_sas()), timeout,
                        interval=0.1, what=what)

    def established(self, ike=None):
        """IKE SAs that are ESTABLISHED with at least one INSTALLED CHILD_SA."""
        return [s for s in self.list_sas(ike)
                if s.get("state") == "ESTABLISHED"
                and any(c["installed"] for c in s["children"])]

    def stats(self):
        with self.vici() as v:
            return v.request("stats")

    # -- gateway routing -----------------------------------------------------
    def route_pools_via_tun(self, dev="ipsec0"):
        """Routes every pool into charon's TUN device (gateway mode).

        kernel-libipsec writes decrypted packets to its TUN device and
        encrypts what the kernel routes into it; charon already routes each
        client's virtual IP (table 220). Optional: a pool route keeps
        traffic to unassigned pool addresses off the default route.
        """
        for pool in self.pools.values():
            for net in pool["addrs"]:
                if "-" in net:
                    continue  # a range, not a prefix: charon's own routes do
                subprocess.run(["ip", "-n", self.netns, "route", "replace",
                                net, "dev", dev], check=True, timeout=10,
                               capture_output=True)


StrongSwan = Charon


# ---------------------------------------------------------------------------
# certificates

class Pki:
    """A test CA with server and client certificates, made with `pki` (PEM)."""

    def __init__(self, directory, key_type="rsa", key_size=3072,
                 ca_dn="C=CH, O=Isthmus Test, CN=Isthmus Test CA"):
        self.dir = os.path.abspath(str(directory))
        os.makedirs(self.dir, exist_ok=True)
        self.ca_key = self.key("ca", key_type, key_size)
        self.ca_cert = os.path.join(self.dir, "ca.pem")
        if not os.path.exists(self.ca_cert):
            self._pki("--self", "--ca", "--lifetime", "3650", "--in",
                      self.ca_key, "--dn", ca_dn, "--outform", "pem",
                      out=self.ca_cert)

    def _pki(self, *args, out):
        r = subprocess.run([PKI, *args], capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"pki {' '.join(args)}: {r.stderr.decode()}")
        with open(out + ".tmp", "wb") as f:
            f.write(r.stdout)
        os.replace(out + ".tmp", out)

    def key(self, name, key_type="rsa", key_size=3072):
        """A private key (PEM) named name.key; kept if it already exists."""
        path = os.path.join(self.dir, f"{name}.key")
        if not os.path.exists(path):
            args = ["--gen", "--type", key_type, "--outform", "pem"]
            if key_type in ("rsa", "ecdsa"):
                args += ["--size", str(key_size)]
            self._pki(*args, out=path)
            os.chmod(path, 0o600)
        return path

    def issue(self, name, dn, sans=(), key_type="rsa", key_size=3072,
              flags=()):
        """Issues name.pem for key name.key; returns (cert, key) paths."""
        key = self.key(name, key_type, key_size)
        cert = os.path.join(self.dir, f"{name}.pem")
        if not os.path.exists(cert):
            args = ["--issue", "--cacert", self.ca_cert, "--cakey", self.ca_key,
                    "--in", key, "--type", "priv", "--dn", dn,
                    "--lifetime", "730", "--outform", "pem"]
            for s in sans:
                args += ["--san", s]
            for fl in flags:
                args += ["--flag", fl]
            self._pki(*args, out=cert)
        return cert, key

    def server(self, fqdn, key_type="rsa", key_size=3072):
        """A gateway certificate whose SAN (and CN) is fqdn."""
        return self.issue(f"server-{fqdn}", f"C=CH, O=Isthmus Test, CN={fqdn}",
                          [fqdn], key_type, key_size,
                          flags=("serverAuth", "ikeIntermediate"))

    def client(self, identity, key_type="rsa", key_size=2048):
        """A client certificate with identity as SAN (email if it has '@')."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", identity)
        return self.issue(f"client-{safe}",
                          f"C=CH, O=Isthmus Test, CN={identity}",
                          [identity], key_type, key_size,
                          flags=("clientAuth",))
