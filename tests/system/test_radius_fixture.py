"""The FreeRADIUS fixture others reuse: it runs inside a network namespace,
answers only the configured client with its secret, and records accounting
in a detail file the test can read."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib.freeradius import FreeRadius, User  # noqa: E402
from lib.proc import run  # noqa: E402


def radclient(ns, port, kind, secret, attrs):
    body = "\n".join(attrs) + "\n"
    return run(["radclient", "-x", "-r", "1", "-t", "2", f"198.51.100.2:{port}", kind, secret],
               netns=ns, check=False, input=body, timeout=20)


def test_freeradius_in_a_namespace_answers_its_client(net, tmp_path):
    """A NAS at 198.51.100.1 asks FreeRADIUS at 198.51.100.2 (own namespaces):
    right password gets Access-Accept with the user's address, a wrong one
    Access-Reject, a wrong secret no answer; accounting lands in the detail
    file."""
    nas = net.ns("rnas")
    srv = net.ns("rsrv")
    net.link(nas, "198.51.100.1/24", srv, "198.51.100.2/24")
    radius = FreeRadius(tmp_path / "fr", secret="ns-secret", netns=srv,
                        address="198.51.100.2",
                        clients=[("198.51.100.1", "ns-secret")],
                        users={"alice": User("alice-pw", framed_ip="10.7.0.9")})
    radius.start()
    try:
        assert radius.auth_port == 1812 and radius.acct_port == 1813
        ok = radclient(nas, 1812, "auth", "ns-secret",
                       ['User-Name = "alice"', 'User-Password = "alice-pw"',
                        "Message-Authenticator = 0x00"])
        assert "Received Access-Accept" in ok.stdout, ok.stdout + ok.stderr
        assert "Framed-IP-Address = 10.7.0.9" in ok.stdout
        bad = radclient(nas, 1812, "auth", "ns-secret",
                        ['User-Name = "alice"', 'User-Password = "nope"',
                         "Message-Authenticator = 0x00"])
        assert "Received Access-Reject" in bad.stdout, bad.stdout + bad.stderr
        wrong_secret = radclient(nas, 1812, "auth", "other-secret",
                                 ['User-Name = "alice"', 'User-Password = "alice-pw"',
                                  "Message-Authenticator = 0x00"])
        assert "Received Access-" not in wrong_secret.stdout
        acct = radclient(nas, 1813, "acct", "ns-secret",
                         ['User-Name = "alice"', "Acct-Status-Type = Start",
                          'Acct-Session-Id = "fixture-1"'])
        assert "Received Accounting-Response" in acct.stdout, acct.stdout + acct.stderr
        recs = [r for r in radius.detail_records() if r.get("Acct-Session-Id") == "fixture-1"]
        assert len(recs) == 1 and recs[0]["Acct-Status-Type"] == "Start"
    finally:
        radius.stop()
    # The EAP-TLS material is there for tests that use it.
    for key in ("ca", "server", "server_key", "client", "client_key"):
        assert Path(radius.certs[key]).stat().st_size > 0
