"""The rules every endpoint follows: authentication (401), roles (403),
tenant isolation (404), duplicates (409), stale writes (412), oversize bodies
(413), and validation (400 naming the field) -- each time with nothing
written. Also pagination, merge patch and HTTPS. Every response is checked
against openapi.yaml (lib.api)."""
import json
import subprocess

import pytest

from lib.api import Api, db_snapshot, operator_client
from lib.httpreq import perform

T = "/api/v1/tenants"


@pytest.fixture
def ops(isthmusd):
    d = isthmusd(start=False)
    api = operator_client(d)
    api.must("POST", T, {"id": "acme", "name": "Acme", "gateway_ids": ["vpn.acme.example"],
                         "network": {"ifname": "ist-acme"}}, status=201)
    api.must("PATCH", f"{T}/acme/policies/default", {"pools": ["10.1.0.0/24"]})
    api.must("POST", f"{T}/acme/users", {"username": "alice", "static_ip": "10.1.0.5"},
             status=201)
    api.must("POST", f"{T}/acme/radius-servers",
             {"name": "r1", "host": "radius.acme.example", "secret": "s"}, status=201)
    return api


def unchanged(ops, before):
    assert db_snapshot(ops.daemon) == before, "a refused request wrote to the database"


def test_health_and_ready_need_no_token(ops):
    anon = Api(ops.daemon)
    for path in ("/health", "/api/v1/health"):
        assert anon.must("GET", path)["status"] == "ok"
    for path in ("/ready", "/api/v1/ready"):
        assert anon.must("GET", path)["status"] == "ready"
    assert anon.post("/health", {}).status == 405


@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwdw==",
                                  "Bearer ist_AAAAAAAAAAAA_" + "A" * 43])
def test_missing_or_bad_token_is_401_and_writes_nothing(ops, auth):
    before = db_snapshot(ops.daemon)
    anon = Api(ops.daemon)
    hdrs = {"Authorization": auth} if auth else {}
    for method, path, body in (("GET", T, None), ("GET", f"{T}/acme/users", None),
                               ("POST", T, {"id": "x", "name": "x",
                                            "network": {"ifname": "x"}}),
                               ("DELETE", f"{T}/acme", None), ("GET", "/api/v1/nope", None)):
        r = anon.request(method, path, body, headers=hdrs)
        assert r.status == 401, r
        assert r.headers.get("www-authenticate", "").startswith("Bearer")
    # A token that differs from a real one in its last character.
    real = ops.token
    forged = real[:-1] + ("A" if real[-1] != "A" else "B")
    assert ops.with_token(forged).get(T).status == 401
    unchanged(ops, before)


def test_unknown_paths_and_methods(ops):
    assert ops.get("/api/v1/nope").status == 404
    assert ops.get(f"{T}/acme/users/alice/extra").status == 404
    assert ops.request("PUT", f"{T}/acme").status == 405


BAD_BODIES = [
    # (path, method, body or raw text, field named, status)
    (T, "POST", '{"id": "x", "name": "x", "network": {"ifname": "x"}', None, 400),
    (T, "POST", '[1, 2]', None, 400),
    (T, "POST", '{"id": "x"} trailing', None, 400),
    (T, "POST", '', None, 400),
    (T, "POST", {"id": "b", "name": "B", "network": {"ifname": "b"}, "colour": "red"},
     "colour", 400),
    (T, "POST", {"id": "b", "name": "B", "network": {"ifname": "b", "mtu": 100}},
     "network.mtu", 400),
    (T, "POST", {"id": "b", "name": "B", "network": {"ifname": "b", "mtu": "1400"}},
     "network.mtu", 400),
    (T, "POST", {"id": "b", "name": "B", "network": {"ifname": "b", "mtu": 1400.5}},
     "network.mtu", 400),
    (T, "POST", {"id": "B_ad", "name": "B", "network": {"ifname": "b"}}, "id", 400),
    (T, "POST", {"id": "b", "network": {"ifname": "b"}}, "name", 400),
    (T, "POST", {"id": "b", "name": "B", "network": {"ifname": "much-too-long-ifname"}},
     "network.ifname", 400),
    (T, "POST", {"id": "b", "name": "B", "network": {"ifname": "b"}, "enabled": "yes"},
     "enabled", 400),
    (T, "POST", {"id": "b", "name": "B", "network": {"ifname": "b"},
                 "gateway_ids": ["ok.example", "not valid!"]}, "gateway_ids[1]", 400),
    (T, "POST", {"id": "b", "name": "B", "network": {"ifname": "b"}, "created_at": "x"},
     "created_at", 400),
    (T, "POST", {"id": "b", "name": "B\u0000", "network": {"ifname": "b"}}, "name", 400),
    (f"{T}/acme/policies", "POST", {"name": "p", "pools": ["10.9.0.1/24"]}, "pools[0]", 400),
    (f"{T}/acme/policies", "POST", {"name": "p", "dns_servers": ["300.1.1.1"]},
     "dns_servers[0]", 400),
    (f"{T}/acme/policies", "POST", {"name": "p", "ike_proposals": ["aes256-sha256-modp1024"]},
     "ike_proposals[0]", 400),
    (f"{T}/acme/policies", "POST", {"name": "p", "esp_proposals": ["3des-sha1"]},
     "esp_proposals[0]", 400),
    (f"{T}/acme/policies", "POST", {"name": "p", "ike_proposals": ["rot13-ecp256"]},
     "ike_proposals[0]", 400),
    (f"{T}/acme/policies", "POST", {"name": "p", "ike_lifetime": 2}, "ike_lifetime", 400),
    (f"{T}/acme/users", "POST", {"username": "bob", "static_ip": "10.2.0.1"}, "static_ip", 400),
    (f"{T}/acme/users", "POST", {"username": "bob", "policy": "nosuch"}, "policy", 400),
    (f"{T}/acme/users", "POST", {"username": "bob", "auth": "psk"}, "auth", 400),
    (f"{T}/acme/users", "POST", {"username": "bob/x"}, "username", 400),
    (f"{T}/acme/users", "POST", {"username": "bob", "email": "not-an-address"}, "email", 400),
    (f"{T}/acme/radius-servers", "POST", {"name": "r2", "host": "h.example"}, "secret", 400),
    (f"{T}/acme/radius-servers", "POST",
     {"name": "r2", "host": "h.example", "secret": "s", "auth_port": 70000}, "auth_port", 400),
    (f"{T}/acme/users/alice", "PATCH", {"username": "alice2"}, "username", 400),
    (f"{T}/acme/users/alice", "PATCH", {"enabled": None, "static_ip": "x"}, "static_ip", 400),
    (f"{T}/acme", "PATCH", {"name": None}, "name", 400),
    (f"{T}/acme", "PATCH", {"network": {"mtu": 99999}}, "network.mtu", 400),
    (f"{T}/acme", "PATCH", {"default_policy": "nosuch"}, "default_policy", 400),
    ("/api/v1/tokens", "POST", {"name": "t", "role": "root"}, "role", 400),
    ("/api/v1/tokens", "POST", {"name": "t", "role": "tenant-admin"}, "tenant", 400),
    ("/api/v1/tokens", "POST", {"name": "t", "role": "operator", "tenant": "acme"}, "tenant", 400),
]


@pytest.mark.parametrize("path,method,body,field,status", BAD_BODIES)
def test_invalid_bodies_are_refused_with_the_field_named(ops, path, method, body, field, status):
    before = db_snapshot(ops.daemon)
    if isinstance(body, str):
        r = ops.request(method, path, raw=body)
    else:
        r = ops.request(method, path, body)
    assert r.status == status, r
    assert r.headers["content-type"] == "application/problem+json"
    if field:
        assert r.problem_field() == field, r
        assert r["detail"].startswith(field), r
    unchanged(ops, before)


def test_not_json_content_type_is_415(ops):
    before = db_snapshot(ops.daemon)
    r = ops.request("POST", f"{T}/acme/users", raw="username=bob",
                    content_type="application/x-www-form-urlencoded")
    assert r.status == 415, r
    unchanged(ops, before)


def test_duplicates_are_409_with_nothing_written(ops):
    before = db_snapshot(ops.daemon)
    cases = [
        (T, {"id": "acme", "name": "Again", "network": {"ifname": "other"}}, "id"),
        (T, {"id": "beta", "name": "B", "network": {"ifname": "ist-acme"}}, "network.ifname"),
        (T, {"id": "beta", "name": "B", "network": {"ifname": "ist-beta"},
             "gateway_ids": ["VPN.acme.example"]}, "gateway_ids[0]"),
        (f"{T}/acme/users", {"username": "ALICE"}, "username"),
        (f"{T}/acme/users", {"username": "bob", "static_ip": "10.1.0.5"}, "static_ip"),
        (f"{T}/acme/policies", {"name": "default"}, "name"),
        (f"{T}/acme/radius-servers", {"name": "r1", "host": "h.example", "secret": "x"}, "name"),
    ]
    for path, body, field in cases:
        r = ops.post(path, body)
        assert r.status == 409 and r.problem_field() == field, r
    r = ops.delete(f"{T}/acme/policies/default")
    assert r.status == 409, r
    unchanged(ops, before)


def test_if_match_keeps_two_admins_from_losing_an_update(ops):
    first = ops.must("GET", f"{T}/acme")
    second = ops.must("GET", f"{T}/acme")
    etag = first.headers["etag"]
    assert etag == second.headers["etag"]
    r = ops.patch(f"{T}/acme", {"name": "Acme One"}, headers={"If-Match": etag})
    assert r.status == 200 and r.headers["etag"] != etag, r
    before = db_snapshot(ops.daemon)
    r = ops.patch(f"{T}/acme", {"name": "Acme Two"}, headers={"If-Match": etag})
    assert r.status == 412, r
    r = ops.delete(f"{T}/acme/users/alice", headers={"If-Match": '"stale"'})
    assert r.status == 412, r
    unchanged(ops, before)
    assert ops.must("GET", f"{T}/acme")["name"] == "Acme One"
    # The current tag, or "*", is accepted.
    cur = ops.must("GET", f"{T}/acme/users/alice").headers["etag"]
    ops.must("PATCH", f"{T}/acme/users/alice", {"display_name": "A"},
             headers={"If-Match": cur})
    ops.must("PATCH", f"{T}/acme/users/alice", {"display_name": "B"}, headers={"If-Match": "*"})


def test_body_over_one_mib_is_413_with_nothing_written(ops):
    before = db_snapshot(ops.daemon)
    big = json.dumps({"username": "bob", "display_name": "x" * (1024 * 1024 + 10)})
    r = ops.request("POST", f"{T}/acme/users", raw=big)
    assert r.status == 413, r
    unchanged(ops, before)
    # Just under the limit is read (and refused for its content, not its size).
    ok = json.dumps({"username": "bob", "display_name": "x" * (1024 * 1024 - 100)})
    r = ops.request("POST", f"{T}/acme/users", raw=ok)
    assert r.status == 400 and r.problem_field() == "display_name", r


def test_merge_patch_semantics(ops):
    r = ops.must("PATCH", f"{T}/acme", {"network": {"mtu": 1380, "netns": "acme-ns"}})
    assert r["network"] == {"ifname": "ist-acme", "netns": "acme-ns", "mtu": 1380}
    # null removes: back to the default / to null.
    r = ops.must("PATCH", f"{T}/acme", {"network": {"mtu": None, "netns": None}})
    assert r["network"] == {"ifname": "ist-acme", "netns": None, "mtu": 1400}
    r = ops.must("PATCH", f"{T}/acme/users/alice", {"static_ip": None, "display_name": "Al"})
    assert r["static_ip"] is None and r["display_name"] == "Al" and r["enabled"] is True
    # Arrays are replaced whole.
    r = ops.must("PATCH", f"{T}/acme/policies/default",
                 {"pools": ["10.1.0.0/24", "FD00:0::/64"]})
    assert r["pools"] == ["10.1.0.0/24", "fd00::/64"]
    # The RADIUS secret stays unless given.
    sealed = ops.daemon.query("SELECT secret_sealed FROM radius_servers")[0][0]
    ops.must("PATCH", f"{T}/acme/radius-servers/r1", {"timeout_ms": 1500})
    assert ops.daemon.query("SELECT secret_sealed FROM radius_servers")[0][0] == sealed
    ops.must("PATCH", f"{T}/acme/radius-servers/r1", {"secret": "new"})
    assert ops.daemon.query("SELECT secret_sealed FROM radius_servers")[0][0] != sealed
    # Weak crypto only when enabled explicitly.
    r = ops.must("PATCH", f"{T}/acme/policies/default",
                 {"allow_weak_crypto": True, "ike_proposals": ["aes128-sha1-modp1024"]})
    assert r["ike_proposals"] == ["aes128-sha1-modp1024"]


def test_lists_are_paginated_in_a_stable_order(ops):
    names = [f"user{i:03d}" for i in range(25)]
    for n in reversed(names):
        ops.must("POST", f"{T}/acme/users", {"username": n}, status=201)
    seen, cursor, pages = [], None, 0
    while True:
        url = f"{T}/acme/users?limit=10" + (f"&cursor={cursor}" if cursor else "")
        r = ops.must("GET", url)
        assert len(r["items"]) <= 10
        seen += [u["username"] for u in r["items"]]
        pages += 1
        cursor = r["next_cursor"]
        if not cursor:
            break
        assert pages < 10
    assert pages == 3 and seen == ["alice"] + names
    assert len(ops.must("GET", f"{T}/acme/users")["items"]) == 26  # default limit 100
    for bad in ("limit=0", "limit=1001", "limit=ten", "cursor=%21%21", "cursor=Zm9v"):
        r = ops.get(f"{T}/acme/users?{bad}")
        assert r.status == 400 and r.problem_field() in ("limit", "cursor"), r


def test_delete_tenant_cascades_and_audits(ops):
    ops.must("DELETE", f"{T}/acme", status=204)
    assert ops.get(f"{T}/acme").status == 404
    assert ops.get(f"{T}/acme/users").status == 404
    for table in ("users", "policies", "pools", "radius_servers", "gateway_ids"):
        assert ops.daemon.query(f"SELECT count(*) FROM {table}") == [(0,)], table
    last = ops.must("GET", "/api/v1/audit?limit=1")["items"][0]
    assert (last["resource"], last["resource_id"], last["action"]) == ("tenant", "acme", "delete")
    assert ops.delete(f"{T}/acme").status == 404
    r = ops.delete(f"{T}/acme?force=maybe")
    assert r.status == 400 and r.problem_field() == "force"


def test_https_when_tls_cert_and_key_are_set(isthmusd, tmp_path):
    cert, key = tmp_path / "api.crt", tmp_path / "api.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=30)
    d = isthmusd(config={"api": {"tls_cert": cert, "tls_key": key}})
    d.wait_log(r"listening on .* \(https\)")
    r = perform({"method": "GET", "url": f"https://127.0.0.1:{d.api_port}/health",
                 "timeout": 10})
    assert r.get("status") == 200 and json.loads(r["body"]) == {"status": "ok"}, r
    plain = perform({"method": "GET", "url": f"http://127.0.0.1:{d.api_port}/health",
                     "timeout": 5})
    assert plain.get("status") != 200
