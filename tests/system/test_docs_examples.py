"""The operator-facing files cannot drift from what the daemon does.

- docs/OPERATIONS.md: every `curl` example against $API is marked with the
  status it answers (an HTML comment `<!-- test: 201 -->` before its block,
  optionally `save VAR=json.path` to use a value of the answer later, or
  `skip: reason`). They are run here, in order, with the real curl and the
  options written in the guide, against a real isthmusd; each answer must
  have the documented status and match openapi.yaml.
- deploy/isthmusd.service: parses (systemd-analyze verify), and the
  capabilities it grants are enough: isthmusd run as an unprivileged user
  with exactly those capabilities sets up a tenant's device in its network
  namespace and runs the example tenant hook.
- deploy/hooks/tenant-updown.example.sh: shellcheck-clean; up adds the NAT
  table in the tenant's namespace (twice: the same), down removes it.
- deploy/freeradius/: FreeRADIUS 3.2 accepts the example configuration,
  answers an EAP-Identity with an EAP-MSCHAPv2 challenge, drops requests
  without Message-Authenticator and writes accounting to a detail file.
"""
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from lib.api import Api, check_response
from lib.isthmusd import REPO, Isthmusd, binary
from lib.proc import wait_for

DOC = REPO / "docs" / "OPERATIONS.md"
UNIT = REPO / "deploy" / "isthmusd.service"
HOOK = REPO / "deploy" / "hooks" / "tenant-updown.example.sh"
RADIUS_EXAMPLE = REPO / "deploy" / "freeradius"

BLOCK_RX = re.compile(r"(?:<!-- test: (?P<marker>[^\n]*?) -->\n)?```sh\n(?P<body>.*?)\n```",
                      re.S)


# --- the guide's curl examples ---------------------------------------------------

def doc_examples():
    """[(line, marker or None, command text)] of every sh block of the guide
    that calls curl against $API."""
    text = DOC.read_text()
    out = []
    for m in BLOCK_RX.finditer(text):
        body = m.group("body")
        if "curl" not in body or "$API" not in body:
            continue
        line = text.count("\n", 0, m.start("body")) + 1
        out.append((line, m.group("marker"), body))
    return out


def parse_curl(body, env):
    """argv of one documented curl command with $VARS expanded (an unknown
    variable fails), without a trailing `> file` redirection; and the method
    and API path it requests."""
    words = shlex.split(body.replace("\\\n", " "), comments=False)
    assert words and words[0] == "curl", f"not one curl command: {body!r}"
    if ">" in words:
        i = words.index(">")
        words = words[:i] + words[i + 2:]
    assert not {"|", ";", "&&"} & set(words), f"one plain curl per tested block: {body!r}"

    def expand(w):
        def var(m):
            name = m.group(1) or m.group(2)
            assert name in env, f"${name} is not defined at this point of the guide"
            return env[name]
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", var, w)

    argv = [expand(w) for w in words]
    method = "GET"
    for i, w in enumerate(argv):
        if w == "-X":
            method = argv[i + 1]
        elif w in ("-d", "--data", "--data-raw") and method == "GET":
            method = "POST"
    urls = [w for w in argv if w.startswith(env["API"])]
    assert len(urls) == 1, f"one URL under $API expected: {argv}"
    return argv, method, urls[0][len(env["API"]):]


def run_curl(daemon, argv, workdir):
    """Runs argv (curl) in the daemon's namespace; returns (status, headers,
    body text)."""
    body_f, hdr_f = workdir / "body.out", workdir / "headers.out"
    full = argv + ["-o", str(body_f), "-D", str(hdr_f), "-w", "%{http_code}",
                   "--max-time", "20"]
    if daemon.netns:
        full = ["ip", "netns", "exec", daemon.netns] + full
    r = subprocess.run(full, capture_output=True, text=True, timeout=30, cwd=str(workdir))
    assert r.returncode == 0, f"curl failed ({r.returncode}): {r.stderr}"
    headers = {}
    for line in hdr_f.read_text(errors="replace").splitlines():
        if line.startswith("HTTP/"):
            headers = {}
        elif ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return int(r.stdout.strip()), headers, body_f.read_text(errors="replace")


def dig(obj, path):
    for part in path.split("."):
        obj = obj[part]
    return str(obj)


def test_every_curl_example_of_the_guide_is_marked():
    examples = doc_examples()
    assert len(examples) >= 20, f"only {len(examples)} curl examples found in {DOC}"
    unmarked = [line for line, marker, _ in examples if marker is None]
    assert not unmarked, f"curl examples without a <!-- test: ... --> marker at lines {unmarked}"
    for line, marker, _ in examples:
        assert re.fullmatch(r"skip: .+|\d{3}( save( \w+=[\w.]+)+)?", marker), \
            f"line {line}: bad marker {marker!r}"


def test_guide_examples_run_as_documented(isthmusd, net, tmp_path):
    d = isthmusd(netns=net.ns("docs"), start=False)
    token = d.issue_token("admin", "operator")
    d.start()
    env = {"API": d.api_url, "TOKEN": token}
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    ran = skipped = 0
    for line, marker, body in doc_examples():
        if marker.startswith("skip:"):
            skipped += 1
            continue
        expected, *rest = marker.split()
        argv, method, path = parse_curl(body, env)
        status, headers, text = run_curl(d, argv, workdir)
        where = f"OPERATIONS.md line {line}: {method} {path}"
        assert status == int(expected), f"{where}: {status}, documented {expected}: {text[:600]}"
        # The answer must also be one the contract describes.
        parsed = check_response(method, path, status, headers, text)
        for save in rest[1:] if rest and rest[0] == "save" else []:
            name, jpath = save.split("=", 1)
            env[name] = dig(parsed, jpath)
        ran += 1
    assert ran >= 20 and skipped <= 2, (ran, skipped)
    # What the guide made is there, as the guide says.
    status, _, text = run_curl(d, ["curl", "-sS", "-H", f"Authorization: Bearer {token}",
                                   f"{d.api_url}/api/v1/tenants/acme/users/alice"], workdir)
    assert status == 200 and json.loads(text)["enabled"] is False, text
    status, _, text = run_curl(d, ["curl", "-sS", "-H", f"Authorization: Bearer {env['VIEWER_TOKEN']}",
                                   f"{d.api_url}/api/v1/tenants/acme"], workdir)
    assert status == 401, f"the revoked viewer token still works: {status} {text[:300]}"


def test_example_config_passes_check_config():
    r = subprocess.run([binary(), "-c", str(REPO / "deploy" / "isthmus.conf.example"),
                        "--check-config"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "configuration OK" in r.stdout, r.stdout + r.stderr


# --- the systemd unit -------------------------------------------------------------

def unit_values(key):
    vals = []
    for line in UNIT.read_text().splitlines():
        if line.startswith(key + "="):
            vals += line.split("=", 1)[1].split()
    return vals


def test_unit_parses_with_systemd_analyze(tmp_path):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text().replace("/usr/local/sbin/isthmusd", os.path.abspath(binary()))
    copy = tmp_path / "isthmusd.service"
    copy.write_text(text)
    r = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr
    assert unit_values("Type") == ["simple"]
    assert "--check-config" in unit_values("ExecStartPre")


def test_unit_capabilities_run_a_tenant_with_namespace_and_hook(procs, net, tmp_path):
    """isthmusd as uid 65534 with only the unit's capabilities (ambient, as
    systemd gives them): the AF_XDP receive path
    starts on a client-facing interface ([esp] xdp); the tenant's TUN device
    is created, moved into the tenant's namespace and addressed there, and
    the example hook puts its NAT table there; deleting the tenant runs the
    hook's down."""
    caps = unit_values("AmbientCapabilities")
    assert caps == unit_values("CapabilityBoundingSet"), "ambient and bounding sets differ"
    capspec = ",".join(["-all"] + ["+" + c[len("CAP_"):].lower() for c in caps])
    daemon_ns, tenant_ns, client_ns = net.ns("dd"), net.ns("dt"), net.ns("dc")
    net.link(daemon_ns, "198.51.100.1/24", client_ns, "198.51.100.10/24", name_a="wan0")
    # A folder the unprivileged user owns (pytest's tmp_path is root's 0700).
    folder = Path(tempfile.mkdtemp(prefix="deploy-unit-", dir="/tmp"))
    os.chmod(folder, 0o755)
    os.chown(folder, 65534, 65534)
    # The unprivileged user must reach the program and the hook whatever the
    # permissions of the checkout's folders (a CI clone may sit in a 0700
    # folder): copies of both live in this folder.
    program = folder / "isthmusd"
    shutil.copy2(os.path.abspath(binary()), program)
    hook = folder / HOOK.name
    shutil.copy2(HOOK, hook)
    program.chmod(0o755)
    hook.chmod(0o755)
    wrapper = folder / "isthmusd-as-unit"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps={capspec} "
        f"--ambient-caps={capspec} --bounding-set={capspec} -- "
        f"{shlex.quote(str(program))} \"$@\"\n")
    wrapper.chmod(0o755)
    d = Isthmusd(procs, folder / "d", name="unit", netns=daemon_ns, binary_path=str(wrapper),
                 config={"daemon": {"tenant_hook": str(hook)}, "esp": {"xdp": "wan0"}})
    os.chown(d.dir, 65534, 65534)
    try:
        token = d.issue_token("admin", "operator")
        d.start()
        d.wait_log(r"AF_XDP receive on wan0: 1 queue\(s\), native XDP", timeout=5)
        api = Api(d, token)
        api.must("POST", "/api/v1/tenants", {
            "id": "unit-t", "name": "Unit", "gateway_ids": ["vpn.unit.example"],
            "network": {"ifname": "ist-unit", "netns": tenant_ns, "mtu": 1400}}, status=201)
        api.must("PATCH", "/api/v1/tenants/unit-t/policies/default",
                 {"pools": ["10.77.0.0/24"]}, status=200,
                 content_type="application/merge-patch+json")
        d.wait_log(r"tenant hook \S+ up done", timeout=15)

        def addr():
            r = subprocess.run(["ip", "-n", tenant_ns, "-4", "addr", "show", "dev", "ist-unit"],
                               capture_output=True, text=True, timeout=10)
            return "10.77.0.1/24" in r.stdout
        wait_for(addr, timeout=10, what="10.77.0.1/24 on ist-unit in the tenant namespace")
        # The tenant's first "up" had no pools yet (no NAT); the policy change
        # brings the device down and up again with the pool.
        def nat():
            r = subprocess.run(["ip", "netns", "exec", tenant_ns, "nft", "list", "table",
                                "inet", "isthmus_unit_t"], capture_output=True, text=True,
                               timeout=10)
            return "ip saddr 10.77.0.0/24 masquerade" in r.stdout
        wait_for(nat, timeout=10, what="the hook's NAT table in the tenant namespace")
        assert "not up" not in d.log() and "tenant hook" in d.log()
        mark = d.log_size()
        api.must("DELETE", "/api/v1/tenants/unit-t", status=204)
        d.wait_log(r"tenant hook \S+ down done", timeout=15, start=mark)

        def no_nat():
            r = subprocess.run(["ip", "netns", "exec", tenant_ns, "nft", "list", "tables"],
                               capture_output=True, text=True, timeout=10)
            return r.returncode == 0 and "isthmus_unit_t" not in r.stdout
        wait_for(no_nat, timeout=10, what="the hook's NAT table gone after the tenant")
        d.stop()
    finally:
        if d.running():
            d.kill()
        shutil.rmtree(folder, ignore_errors=True)


# --- the example hook -------------------------------------------------------------

def test_hook_is_shellcheck_clean():
    tool = shutil.which("shellcheck")
    if not tool:
        pytest.skip("shellcheck is not installed")
    r = subprocess.run([tool, "-s", "sh", str(HOOK)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def run_hook(action, ns_env, netns_exec=None, **extra):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ISTHMUS_ACTION": action}
    env.update(ns_env)
    env.update(extra)
    argv = [str(HOOK), action]
    if netns_exec:
        argv = ["ip", "netns", "exec", netns_exec] + argv
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def test_hook_without_namespace_routes_pools_in_a_table_of_their_own(net, tmp_path):
    """A tenant without namespace, run inside a test namespace that stands in
    for the daemon's: with UPLINK, pool routes and a default route in table
    1000+index, rules for the device and the uplink, NAT out of the uplink;
    down removes all of it; a bad setting is refused with its line."""
    host = net.ns("hh")
    subprocess.run(["ip", "-n", host, "tuntap", "add", "dev", "ist-h", "mode", "tun"], check=True)
    subprocess.run(["ip", "-n", host, "link", "add", "upl", "type", "veth", "peer", "name",
                    "uplp"], check=True)
    subprocess.run(["ip", "-n", host, "addr", "add", "192.0.2.2/24", "dev", "upl"], check=True)
    for dev in ("upl", "uplp"):
        subprocess.run(["ip", "-n", host, "link", "set", dev, "up"], check=True)
    conf = tmp_path / "tenants"
    conf.mkdir()
    (conf / "h1.conf").write_text("# uplink\nUPLINK=upl\nUPLINK_GATEWAY=192.0.2.1\n")
    env = {"ISTHMUS_TENANT": "h1", "ISTHMUS_IFNAME": "ist-h", "ISTHMUS_NETNS": "",
           "ISTHMUS_POOLS": "10.5.0.0/24", "ISTHMUS_MTU": "1400", "ISTHMUS_TENANT_INDEX": "7",
           "ISTHMUS_HOOK_CONF_DIR": str(conf)}

    def ip(*args):
        return subprocess.run(["ip", "-n", host, *args], capture_output=True, text=True,
                              timeout=10).stdout
    for _ in range(2):  # idempotent
        r = run_hook("up", env, netns_exec=host)
        assert r.returncode == 0, r.stderr
    assert ip("-4", "rule").count("lookup 1007") == 2, ip("-4", "rule")
    table = ip("-4", "route", "show", "table", "1007")
    assert "10.5.0.0/24 dev ist-h" in table and "default via 192.0.2.1 dev upl" in table, table
    nft = subprocess.run(["ip", "netns", "exec", host, "nft", "list", "table", "inet",
                          "isthmus_h1"], capture_output=True, text=True, timeout=10).stdout
    assert 'oifname "upl" ip saddr 10.5.0.0/24 masquerade' in nft, nft
    r = run_hook("down", env, netns_exec=host)
    assert r.returncode == 0, r.stderr
    assert "lookup 1007" not in ip("-4", "rule")
    assert ip("-4", "route", "show", "table", "1007").strip() == ""
    assert "isthmus_h1" not in subprocess.run(["ip", "netns", "exec", host, "nft", "list",
                                               "tables"], capture_output=True, text=True,
                                              timeout=10).stdout
    (conf / "h1.conf").write_text("UPLINK=upl;reboot\n")
    r = run_hook("up", env, netns_exec=host)
    assert r.returncode != 0 and "bad UPLINK" in r.stderr.splitlines()[0], r.stderr
    r = run_hook("up", dict(env, ISTHMUS_POOLS="10.5.0.0/24 $(reboot)"), netns_exec=host)
    assert r.returncode != 0 and "bad pool" in r.stderr, r.stderr


# --- the FreeRADIUS example ----------------------------------------------------------

def radius_example_dir(tmp_path, port_auth, port_acct):
    """Debian's FreeRADIUS configuration with deploy/freeradius/ installed
    as its README says, made runnable by root in a test folder (no user
    switch, logs and run files inside, listening on 127.0.0.1 only)."""
    raddb = tmp_path / "raddb"
    shutil.copytree("/etc/freeradius/3.0", raddb, symlinks=True)
    for rel in ("mods-available/eap", "sites-available/isthmus", "clients.conf",
                "mods-config/files/authorize"):
        dst = raddb / rel
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        shutil.copyfile(RADIUS_EXAMPLE / rel, dst)
    for site in ("default", "inner-tunnel"):
        (raddb / "sites-enabled" / site).unlink()
    (raddb / "sites-enabled" / "isthmus").symlink_to("../sites-available/isthmus")
    certs = raddb / "certs" / "isthmus"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(certs / "server.key"),
                    "-out", str(certs / "server.pem"), "-subj", "/CN=vpn.acme.example",
                    "-days", "2"], check=True, capture_output=True, timeout=30)
    shutil.copyfile(certs / "server.pem", certs / "ca.pem")
    (tmp_path / "log").mkdir()
    (tmp_path / "run").mkdir()
    conf = (raddb / "radiusd.conf").read_text()
    conf = re.sub(r"(?m)^(\s*)(user|group)\s*=.*$", r"\1# \2", conf)
    conf = re.sub(r"(?m)^logdir = .*$", f"logdir = {tmp_path}/log", conf)
    conf = re.sub(r"(?m)^run_dir = .*$", f"run_dir = {tmp_path}/run", conf)
    (raddb / "radiusd.conf").write_text(conf)
    site = (raddb / "sites-available" / "isthmus").read_text()
    site = site.replace("ipaddr = *", "ipaddr = 127.0.0.1")
    site = site.replace("port = 1812", f"port = {port_auth}")
    site = site.replace("port = 1813", f"port = {port_acct}")
    (raddb / "sites-available" / "isthmus").write_text(site)
    clients = (raddb / "clients.conf").read_text().replace("192.0.2.10", "127.0.0.1")
    (raddb / "clients.conf").write_text(clients)
    return raddb


def free_udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def radclient(port, kind, attrs, secret):
    return subprocess.run(["radclient", "-x", "-r", "1", "-t", "2", f"127.0.0.1:{port}", kind,
                           secret], input=attrs, capture_output=True, text=True, timeout=30)


def test_freeradius_example_runs(procs, tmp_path):
    if not os.path.exists("/usr/sbin/freeradius"):
        pytest.skip("FreeRADIUS is not installed")
    auth, acct = free_udp(), free_udp()
    raddb = radius_example_dir(tmp_path, auth, acct)
    r = subprocess.run(["freeradius", "-XC", "-d", str(raddb)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "Configuration appears to be OK" in r.stdout, r.stdout[-3000:]
    secret = re.search(r"(?m)^\s*secret = (\S+)", (raddb / "clients.conf").read_text()).group(1)
    p = procs.start(["freeradius", "-f", "-l", "stdout", "-d", str(raddb)],
                    tmp_path / "freeradius.out")
    p.wait_log(r"Ready to process requests", timeout=20)
    # EAP-Response/Identity "alice": the answer is a challenge carrying an
    # EAP-Request of type 26 (MSCHAPv2), the default of the example.
    ident = 'User-Name = "alice"\nEAP-Message = 0x0201000a01616c696365\n'
    r = radclient(auth, "auth", ident + "Message-Authenticator = 0x00\n", secret)
    assert "Access-Challenge" in r.stdout, r.stdout + r.stderr
    m = re.search(r"EAP-Message = 0x01([0-9a-f]{2})([0-9a-f]{4})([0-9a-f]{2})", r.stdout)
    assert m and m.group(3) == "1a", r.stdout
    # Without Message-Authenticator: dropped (require_message_authenticator).
    r = radclient(auth, "auth", 'User-Name = "alice"\nUser-Password = "x"\n', secret)
    out = r.stdout + r.stderr
    assert "No reply" in out and not re.search(r"Access-(Accept|Reject|Challenge)", out), out
    # Accounting: answered and written to the detail file of 127.0.0.1.
    start = ('User-Name = "alice"\nAcct-Status-Type = Start\nAcct-Session-Id = "0123456789abcdef"\n'
             'NAS-IP-Address = 127.0.0.1\nFramed-IP-Address = 10.1.0.2\nClass = "acme-staff"\n')
    r = radclient(acct, "acct", start, secret)
    assert "Accounting-Response" in r.stdout, r.stdout + r.stderr

    def detail():
        files = list((tmp_path / "log" / "radacct" / "127.0.0.1").glob("detail-*"))
        return files and "0123456789abcdef" in files[0].read_text()
    wait_for(detail, timeout=5, what="the accounting record in radacct/127.0.0.1/detail-*")
    p.stop()
