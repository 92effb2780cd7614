"""A private FreeRADIUS 3.2 for system tests.

Debian's configuration (/etc/freeradius/3.0) is copied into a folder of the
test and trimmed (see /work/shared/INTEROP.md): no user/group switch, logs,
run files and accounting detail files inside the folder, listening only on
the given address and ports, inner-tunnel removed, an eap module of our own
with md5, mschapv2 and tls (test certificates made here with openssl),
clients.conf with the given clients and require_message_authenticator, and
users with Cleartext-Password plus optional reply attributes.

    radius = FreeRadius(tmp_path / "radius", secret="s3cret",
                        users={"alice": User("alice-secret",
                                             framed_ip="10.1.0.2")})
    radius.start()          # waits for "Ready to process requests"
    ... radius.address, radius.auth_port, radius.acct_port ...
    radius.detail_records() # accounting as the server wrote it
    radius.stop()

Pass netns= to run it inside a network namespace (the address must then be
one of that namespace), clients= to allow other NAS addresses. Every process
goes through proc.Proc and is stopped by PID.
"""
import glob
import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass, field

from . import proc

STOCK = "/etc/freeradius/3.0"
BINARY = "/usr/sbin/freeradius"


@dataclass
class User:
    password: str
    framed_ip: str = None
    # More reply attributes, e.g. {"Class": '"acme"', "Session-Timeout": "3600"}
    # (values as FreeRADIUS's users file writes them).
    reply: dict = field(default_factory=dict)


def free_udp_port(host="127.0.0.1", netns=None):
    """A UDP port free on host (in the root namespace: inside a fresh
    namespace every port is free, so any fixed choice works there)."""
    if netns:
        return None
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                       socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _strip_blocks(text, head_rx):
    """Removes every block whose opening line matches head_rx (braces counted,
    comments ignored)."""
    out, depth, skipping, opened = [], 0, False, False
    rx = re.compile(head_rx)
    for line in text.splitlines(keepends=True):
        code = line.split("#", 1)[0]
        if not skipping and rx.match(line):
            skipping, depth, opened = True, 0, False
        if skipping:
            depth += code.count("{") - code.count("}")
            opened = opened or "{" in code
            if opened and depth <= 0:
                skipping = False
            continue
        out.append(line)
    return "".join(out)


def make_certs(folder, server_cn="radius.test", client_cn="alice"):
    """A CA, a server certificate (EAP-TLS server) and a client certificate
    signed by it, EC P-256, in folder. Returns a dict of paths."""
    os.makedirs(folder, exist_ok=True)
    p = {k: os.path.join(folder, v) for k, v in {
        "ca_key": "ca.key", "ca": "ca.pem", "server_key": "server.key",
        "server_csr": "server.csr", "server": "server.pem",
        "client_key": "client.key", "client_csr": "client.csr",
        "client": "client.pem", "ext": "ext.cnf"}.items()}

    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True,
                       timeout=30)

    with open(p["ext"], "w") as f:
        f.write("[server]\nextendedKeyUsage = serverAuth\n"
                f"subjectAltName = DNS:{server_cn}\n"
                "[client]\nextendedKeyUsage = clientAuth\n")
    for key in ("ca_key", "server_key", "client_key"):
        ossl("genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", p[key])
    ossl("req", "-x509", "-new", "-key", p["ca_key"], "-days", "30",
         "-subj", "/CN=Isthmus Test RADIUS CA", "-out", p["ca"])
    for who, cn in (("server", server_cn), ("client", client_cn)):
        ossl("req", "-new", "-key", p[f"{who}_key"], "-subj", f"/CN={cn}",
             "-out", p[f"{who}_csr"])
        ossl("x509", "-req", "-in", p[f"{who}_csr"], "-CA", p["ca"],
             "-CAkey", p["ca_key"], "-CAcreateserial", "-days", "30",
             "-extfile", p["ext"], "-extensions", who, "-out", p[who])
    return p


class FreeRadius:
    def __init__(self, folder, secret, users, address="127.0.0.1",
                 auth_port=None, acct_port=None, clients=None, netns=None,
                 default_eap_type="md5", debug=False):
        self.dir = os.path.abspath(str(folder))
        self.secret = secret
        self.users = users
        self.address = address
        self.netns = netns
        self.auth_port = auth_port or free_udp_port(address, netns) or 1812
        self.acct_port = acct_port or free_udp_port(address, netns) or 1813
        # NAS addresses allowed: (address or prefix, secret) pairs.
        self.clients = clients or [("127.0.0.1", secret), ("::1", secret)]
        self.default_eap_type = default_eap_type
        self.debug = debug
        self.raddb = os.path.join(self.dir, "raddb")
        self.logdir = os.path.join(self.dir, "log")
        self.certs = None
        self.proc = None

    # -- configuration ---------------------------------------------------
    def configure(self):
        if os.path.exists(self.raddb):
            shutil.rmtree(self.raddb)
        os.makedirs(self.dir, exist_ok=True)
        shutil.copytree(STOCK, self.raddb, symlinks=True)
        os.makedirs(self.logdir, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
        self.certs = make_certs(os.path.join(self.dir, "certs"))
        self._radiusd_conf()
        self._site()
        self._eap()
        self._clients()
        self._users()

    def _edit(self, rel, fn):
        path = os.path.join(self.raddb, rel)
        if os.path.islink(path):
            target = os.path.realpath(path)
            os.unlink(path)
            shutil.copyfile(target, path)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(fn(text))

    def _radiusd_conf(self):
        def fix(t):
            t = re.sub(r"(?m)^(\s*)(user|group)\s*=.*$", r"\1# \2 (test: unchanged)", t)
            t = re.sub(r"(?m)^raddbdir\s*=.*$", f"raddbdir = {self.raddb}", t)
            t = re.sub(r"(?m)^logdir\s*=.*$", f"logdir = {self.logdir}", t)
            t = re.sub(r"(?m)^run_dir\s*=.*$", f"run_dir = {self.dir}/run", t)
            return t
        self._edit("radiusd.conf", fix)

    def _site(self):
        inner = os.path.join(self.raddb, "sites-enabled", "inner-tunnel")
        if os.path.lexists(inner):
            os.unlink(inner)
        fam = "ipv6addr" if ":" in self.address else "ipaddr"
        listen = (f"listen {{\n\ttype = auth\n\t{fam} = {self.address}\n"
                  f"\tport = {self.auth_port}\n}}\n"
                  f"listen {{\n\ttype = acct\n\t{fam} = {self.address}\n"
                  f"\tport = {self.acct_port}\n}}\n")

        def fix(t):
            t = _strip_blocks(t, r"^listen\s*\{")
            t = re.sub(r"(?m)^server default \{\n", "server default {\n" + listen, t, count=1)
            return t
        self._edit("sites-enabled/default", fix)

    def _eap(self):
        c = self.certs
        text = f"""# Written by tests/system/lib/freeradius.py
eap {{
\tdefault_eap_type = {self.default_eap_type}
\ttimer_expire = 60
\tignore_unknown_eap_types = no
\tcisco_accounting_username_bug = no
\tmax_sessions = ${{max_requests}}
\tmd5 {{
\t}}
\tmschapv2 {{
\t}}
\ttls-config tls-common {{
\t\tprivate_key_file = {c["server_key"]}
\t\tcertificate_file = {c["server"]}
\t\tca_file = {c["ca"]}
\t\tcipher_list = "DEFAULT"
\t\ttls_min_version = "1.2"
\t\ttls_max_version = "1.2"
\t\tcache {{
\t\t\tenable = no
\t\t}}
\t\tverify {{
\t\t}}
\t}}
\ttls {{
\t\ttls = tls-common
\t}}
}}
"""
        path = os.path.join(self.raddb, "mods-enabled", "eap")
        os.unlink(path)
        with open(path, "w") as f:
            f.write(text)

    def _clients(self):
        parts = ["# Written by tests/system/lib/freeradius.py\n"]
        for i, (addr, secret) in enumerate(self.clients):
            key = "ipv6addr" if ":" in addr else "ipaddr"
            parts.append(f"client isthmus{i} {{\n\t{key} = {addr}\n"
                         f"\tsecret = {secret}\n"
                         "\trequire_message_authenticator = yes\n"
                         "\tnas_type = other\n}\n")
        with open(os.path.join(self.raddb, "clients.conf"), "w") as f:
            f.write("".join(parts))

    def _users(self):
        lines = ["# Written by tests/system/lib/freeradius.py\n"]
        for name, u in self.users.items():
            reply = dict(u.reply)
            if u.framed_ip:
                reply["Framed-IP-Address"] = u.framed_ip
            lines.append(f'"{name}" Cleartext-Password := "{u.password}"\n')
            items = list(reply.items())
            for i, (k, v) in enumerate(items):
                sep = "," if i + 1 < len(items) else ""
                lines.append(f"\t{k} = {v}{sep}\n")
            lines.append("\n")
        with open(os.path.join(self.raddb, "mods-config", "files", "authorize"), "w") as f:
            f.write("".join(lines))

    # -- running -------------------------------------------------------------
    def start(self, timeout=20.0):
        if not os.path.exists(self.raddb):
            self.configure()
        argv = [BINARY, "-f", "-l", "stdout", "-d", self.raddb]
        if self.debug:
            argv.append("-xx")
        self.proc = proc.Proc(argv, os.path.join(self.dir, "freeradius.out"),
                              netns=self.netns)
        self.proc.wait_log(r"Ready to process requests", timeout=timeout)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def log(self):
        return self.proc.log() if self.proc else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- accounting as written -------------------------------------------------
    def detail_records(self):
        """Every record of the detail files: a list of dicts (attribute name
        to value, quotes removed), in the order the server wrote them."""
        records = []
        files = sorted(glob.glob(os.path.join(self.logdir, "radacct", "*", "detail-*")))
        for path in files:
            with open(path) as f:
                cur = None
                for line in f:
                    if not line.strip():
                        if cur:
                            records.append(cur)
                        cur = None
                        continue
                    if not line[0].isspace():
                        cur = {"_time": line.strip()}
                        continue
                    if cur is not None and "=" in line:
                        k, v = line.strip().split("=", 1)
                        cur[k.strip()] = v.strip().strip('"')
                if cur:
                    records.append(cur)
        return records
