"""Certificates through the API: the tenant CA made with the tenant, a
server certificate issued for the gateway identities or uploaded, client
certificates for users that verify against the tenant CA with openssl, and
revocation that puts them in the tenant's CRL. Private keys never come back.
Every response is checked against openapi.yaml (lib.api)."""
import base64
import subprocess

import pytest

from lib.api import db_snapshot, operator_client

T = "/api/v1/tenants"


def openssl(*args, input=None, check=True):
    r = subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=60,
                       input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))}: {r.stderr.decode()}")
    return r


@pytest.fixture
def ops(isthmusd):
    api = operator_client(isthmusd(start=False))
    api.must("POST", T, {"id": "acme", "name": "Acme", "gateway_ids": ["vpn.acme.example"],
                         "realms": ["acme.example"], "network": {"ifname": "ist-acme"}},
             status=201)
    api.must("POST", f"{T}/acme/users", {"username": "alice", "email": "alice@acme.example",
                                         "auth": "certificate"}, status=201)
    return api


def test_tenant_ca_is_made_with_the_tenant(ops, tmp_path):
    ca = ops.must("GET", f"{T}/acme/ca")
    assert ca["kind"] == "ca" and ca["key_type"] == "ECDSA P-256" and ca["active"]
    assert "O=acme" in ca["subject"] and ca["certificate_pem"].startswith("-----BEGIN CERT")
    pem = ops.must("GET", f"{T}/acme/ca.pem")
    assert pem.headers["content-type"] == "application/x-pem-file"
    assert pem.text == ca["certificate_pem"]
    assert "PRIVATE" not in pem.text
    (tmp_path / "ca.pem").write_text(pem.text)
    text = openssl("x509", "-in", tmp_path / "ca.pem", "-noout", "-text").stdout.decode()
    assert "CA:TRUE" in text
    # The key is stored sealed: no PEM key in the database.
    row = ops.daemon.query("SELECT key_sealed FROM certificates WHERE kind = 'ca'")[0][0]
    assert row and b"PRIVATE KEY" not in bytes(row)
    # RSA-3072 on request.
    ops.must("POST", T, {"id": "rsa", "name": "R", "network": {"ifname": "ist-rsa"},
                         "ca_key_type": "rsa-3072"}, status=201)
    assert ops.must("GET", f"{T}/rsa/ca")["key_type"] == "RSA 3072"


def test_server_certificate_for_the_gateway_identities(ops, tmp_path):
    r = ops.must("POST", f"{T}/acme/certificates/server", {}, status=201)
    assert r["kind"] == "server" and r["source"] == "issued" and r["active"]
    assert "DNS:vpn.acme.example" in r["sans"]
    assert r.headers["location"] == f"{T}/acme/certificates/{r['id']}"
    got = ops.must("GET", r.headers["location"])
    assert "private_key" not in got.json and "PRIVATE" not in got.text
    (tmp_path / "ca.pem").write_text(ops.must("GET", f"{T}/acme/ca.pem").text)
    (tmp_path / "srv.pem").write_text(got["certificate_pem"])
    out = openssl("verify", "-CAfile", tmp_path / "ca.pem", tmp_path / "srv.pem").stdout
    assert b": OK" in out
    # A second one replaces it as the active certificate.
    r2 = ops.must("POST", f"{T}/acme/certificates/server",
                  {"identities": ["vpn2.acme.example", "192.0.2.10"], "key_type": "rsa-2048"},
                  status=201)
    servers = ops.must("GET", f"{T}/acme/certificates?kind=server")["items"]
    assert [(c["id"], c["active"]) for c in servers] == [(r["id"], False), (r2["id"], True)]
    assert "IP Address:192.0.2.10" in r2["sans"] or "IP:192.0.2.10" in r2["sans"]


def make_external(tmp_path, cn="vpn.acme.example"):
    """An external CA and a server certificate it issued, made with openssl."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=External CA", "-days", "30", "-keyout", tmp_path / "xca.key",
            "-out", tmp_path / "xca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
            f"/CN={cn}", "-keyout", tmp_path / "x.key", "-out", tmp_path / "x.csr")
    (tmp_path / "ext.cnf").write_text(f"subjectAltName=DNS:{cn}\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", tmp_path / "x.csr", "-CA", tmp_path / "xca.pem", "-CAkey",
            tmp_path / "xca.key", "-CAcreateserial", "-days", "10", "-extfile",
            tmp_path / "ext.cnf", "-out", tmp_path / "x.pem")
    return ((tmp_path / "x.pem").read_text(), (tmp_path / "xca.pem").read_text(),
            (tmp_path / "x.key").read_text())


def test_upload_external_server_certificate(ops, tmp_path):
    cert, chain, key = make_external(tmp_path)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            tmp_path / "other.key")
    other = (tmp_path / "other.key").read_text()
    before = db_snapshot(ops.daemon)
    r = ops.post(f"{T}/acme/certificates/upload",
                 {"certificate": cert, "chain": chain, "private_key": other})
    assert r.status == 400 and r.problem_field() == "private_key", r
    r = ops.post(f"{T}/acme/certificates/upload", {"certificate": "junk", "private_key": key})
    assert r.status == 400 and r.problem_field() == "certificate", r
    r = ops.post(f"{T}/acme/certificates/upload", {"certificate": cert, "private_key": key,
                                                    "extra": 1})
    assert r.status == 400 and r.problem_field() == "extra", r
    assert db_snapshot(ops.daemon) == before

    r = ops.must("POST", f"{T}/acme/certificates/upload",
                 {"certificate": cert, "chain": chain, "private_key": key}, status=201)
    assert r["source"] == "uploaded" and r["active"] and "External CA" in r["issuer"]
    got = ops.must("GET", f"{T}/acme/certificates/{r['id']}")
    assert got["chain_pem"] == chain and "PRIVATE" not in got.text
    row = ops.daemon.query("SELECT key_sealed FROM certificates WHERE id = ?", (r["id"],))[0][0]
    assert b"PRIVATE KEY" not in bytes(row)
    entry = ops.must("GET", "/api/v1/audit?resource=certificate&limit=1")["items"][0]
    assert entry["action"] == "upload" and entry["changes"]["private_key"] == "***"
    assert key.splitlines()[1] not in repr(ops.daemon.query("SELECT * FROM audit_log"))


def test_client_certificate_verifies_and_lands_in_the_crl_when_revoked(ops, tmp_path):
    (tmp_path / "ca.pem").write_text(ops.must("GET", f"{T}/acme/ca.pem").text)
    r = ops.post(f"{T}/acme/certificates/client", {"username": "alice"})
    assert r.status == 400 and r.problem_field() == "password", r
    r = ops.post(f"{T}/acme/certificates/client", {"username": "nobody", "password": "pw-1234"})
    assert r.status == 400 and r.problem_field() == "username", r

    r = ops.must("POST", f"{T}/acme/certificates/client",
                 {"username": "alice", "password": "correct horse"}, status=201)
    cert = r["certificate"]
    assert cert["kind"] == "client" and cert["user"] == "alice"
    assert "email:alice@acme.example" in cert["sans"] or \
        any("alice@acme.example" in s for s in cert["sans"])
    (tmp_path / "alice.p12").write_bytes(base64.b64decode(r["pkcs12"]))
    out = openssl("pkcs12", "-in", tmp_path / "alice.p12", "-passin", "pass:correct horse",
                  "-clcerts", "-nokeys").stdout
    (tmp_path / "alice.pem").write_bytes(out)
    wrong = openssl("pkcs12", "-in", tmp_path / "alice.p12", "-passin", "pass:wrong",
                    "-nokeys", check=False)
    assert wrong.returncode != 0
    assert b": OK" in openssl("verify", "-CAfile", tmp_path / "ca.pem",
                              tmp_path / "alice.pem").stdout
    # The client key is not kept.
    assert ops.daemon.query("SELECT key_sealed FROM certificates WHERE id = ?",
                            (cert["id"],)) == [(None,)]
    assert "password" not in repr(ops.daemon.query("SELECT changes FROM audit_log WHERE "
                                                   "resource = 'certificate'")).replace(
        '"password":"***"', "")

    # PEM format too.
    pem = ops.must("POST", f"{T}/acme/certificates/client",
                   {"username": "alice", "format": "pem"}, status=201)
    assert pem["private_key_pem"].startswith("-----BEGIN PRIVATE KEY")
    assert "pkcs12" not in pem.json

    crl0 = ops.must("GET", f"{T}/acme/crl")
    (tmp_path / "crl0.pem").write_text(crl0.text)
    ok = openssl("verify", "-crl_check", "-CRLfile", tmp_path / "crl0.pem", "-CAfile",
                 tmp_path / "ca.pem", tmp_path / "alice.pem")
    assert b": OK" in ok.stdout

    rv = ops.must("POST", f"{T}/acme/certificates/{cert['id']}/revoke",
                  {"reason": "keyCompromise"})
    assert rv["revocation_reason"] == "keyCompromise" and rv["revoked_at"]
    r = ops.post(f"{T}/acme/certificates/{cert['id']}/revoke", {})
    assert r.status == 409, r
    ca_id = ops.must("GET", f"{T}/acme/ca")["id"]
    assert ops.post(f"{T}/acme/certificates/{ca_id}/revoke", {}).status == 409
    r = ops.post(f"{T}/acme/certificates/{pem['certificate']['id']}/revoke", {"reason": "bad"})
    assert r.status == 400 and r.problem_field() == "reason", r

    crl = ops.must("GET", f"{T}/acme/crl")
    (tmp_path / "crl.pem").write_text(crl.text)
    text = openssl("crl", "-in", tmp_path / "crl.pem", "-noout", "-text").stdout.decode()
    assert cert["serial"] in text.replace(":", "").upper()
    assert "Key Compromise" in text
    bad = openssl("verify", "-crl_check", "-CRLfile", tmp_path / "crl.pem", "-CAfile",
                  tmp_path / "ca.pem", tmp_path / "alice.pem", check=False)
    assert bad.returncode != 0 and b"revoked" in bad.stdout + bad.stderr


def test_viewer_reads_certificates_but_cannot_issue(ops):
    tok = ops.must("POST", "/api/v1/tokens", {"name": "v", "role": "tenant-viewer",
                                              "tenant": "acme"}, status=201)["token"]
    viewer = ops.with_token(tok)
    viewer.must("GET", f"{T}/acme/ca")
    viewer.must("GET", f"{T}/acme/crl")
    viewer.must("GET", f"{T}/acme/certificates")
    before = db_snapshot(ops.daemon)
    assert viewer.post(f"{T}/acme/certificates/server", {}).status == 403
    assert viewer.post(f"{T}/acme/certificates/client",
                       {"username": "alice", "password": "pw-1234"}).status == 403
    ops.must("POST", T, {"id": "globex", "name": "G", "network": {"ifname": "ist-g"}},
             status=201)
    before = db_snapshot(ops.daemon)
    assert viewer.get(f"{T}/globex/ca").status == 404
    assert viewer.get(f"{T}/globex/crl").status == 404
    assert viewer.post(f"{T}/globex/certificates/server", {}).status == 404
    assert db_snapshot(ops.daemon) == before
