"""An MSP provisions two customers over the REST API: tenants whose address
pools overlap, their policies, users, RADIUS servers and tokens, and each
customer's tokens see their own tenant and nothing of the other's.
Every response is checked against openapi.yaml (lib.api)."""
import pytest

from lib.api import Api, db_snapshot, operator_client

T = "/api/v1/tenants"


def tenant_body(tid, **extra):
    body = {"id": tid, "name": f"{tid.title()} Corp",
            "gateway_ids": [f"vpn.{tid}.example"], "realms": [f"{tid}.example"],
            "network": {"ifname": f"ist-{tid}", "netns": f"{tid}-ns", "mtu": 1400}}
    body.update(extra)
    return body


@pytest.fixture
def ops(isthmusd):
    d = isthmusd(start=False)
    return operator_client(d)


def make_customer(ops, tid, pool4="10.1.0.0/24", pool6="fd00:1::/64"):
    ops.must("POST", T, tenant_body(tid), status=201)
    ops.must("POST", f"{T}/{tid}/policies",
             {"name": "staff", "pools": [pool4, pool6], "dns_servers": ["10.0.0.53"],
              "search_domains": [f"corp.{tid}.example"], "split_routes": ["10.0.0.0/8"]},
             status=201)
    ops.must("POST", f"{T}/{tid}/users",
             {"username": "alice", "display_name": "Alice", "email": f"alice@{tid}.example",
              "policy": "staff", "static_ip": "10.1.0.10"}, status=201)
    ops.must("POST", f"{T}/{tid}/users", {"username": "bob", "policy": "staff"}, status=201)
    ops.must("POST", f"{T}/{tid}/radius-servers",
             {"name": "primary", "host": "127.0.0.1", "secret": f"{tid}-radius-secret",
              "priority": 10}, status=201)


def token(ops, name, role, tenant=None):
    r = ops.must("POST", "/api/v1/tokens", {"name": name, "role": role, "tenant": tenant},
                 status=201)
    assert r.headers["location"] == f"/api/v1/tokens/{r['id']}"
    return r["token"]


def test_msp_provisions_two_customers_with_overlapping_pools(ops):
    make_customer(ops, "acme")
    make_customer(ops, "globex")  # the same 10.1.0.0/24 and fd00:1::/64: allowed across tenants

    r = ops.must("GET", f"{T}/acme")
    assert r["gateway_ids"] == ["vpn.acme.example"] and r["realms"] == ["acme.example"]
    assert r["network"] == {"ifname": "ist-acme", "netns": "acme-ns", "mtu": 1400}
    assert r["default_policy"] == "default" and r["enabled"] is True
    assert r.headers["etag"]

    tenants = ops.must("GET", T)["items"]
    assert [t["id"] for t in tenants] == ["acme", "globex"]

    pol = ops.must("GET", f"{T}/globex/policies/staff")
    assert pol["pools"] == ["10.1.0.0/24", "fd00:1::/64"]
    assert pol["split_routes"] == ["10.0.0.0/8"] and pol["allow_weak_crypto"] is False
    assert pol["ike_proposals"], "a safe default set"

    alice = ops.must("GET", f"{T}/acme/users/alice")
    assert alice["static_ip"] == "10.1.0.10" and alice["policy"] == "staff"
    assert alice["auth"] == "radius" and alice["enabled"] is True
    globex_alice = ops.must("GET", f"{T}/globex/users/alice")
    assert globex_alice["static_ip"] == "10.1.0.10", "the same address in another tenant"

    rad = ops.must("GET", f"{T}/acme/radius-servers/primary")
    assert "secret" not in rad and rad["auth_port"] == 1812 and rad["priority"] == 10
    # The secret is stored sealed, not in the clear.
    blob = ops.daemon.query("SELECT secret_sealed FROM radius_servers WHERE tenant_id='acme'")[0][0]
    assert b"acme-radius-secret" not in bytes(blob)
    assert "acme-radius-secret" not in ops.daemon.log()


def test_pools_of_one_tenant_may_not_overlap(ops):
    make_customer(ops, "acme")
    before = db_snapshot(ops.daemon)
    r = ops.post(f"{T}/acme/policies", {"name": "contractors", "pools": ["10.1.0.128/25"]})
    assert r.status == 409 and r.problem_field() == "pools[0]", r
    assert "overlaps" in r["detail"] and "staff" in r["detail"]
    r = ops.post(f"{T}/acme/policies",
                 {"name": "contractors", "pools": ["10.2.0.0/16", "10.2.1.0/24"]})
    assert r.status == 409 and r.problem_field() == "pools[1]", r
    assert db_snapshot(ops.daemon) == before
    ops.must("POST", f"{T}/acme/policies", {"name": "contractors", "pools": ["10.2.0.0/16"]},
             status=201)


def test_tenant_viewer_reads_its_tenant_and_nothing_else(ops):
    make_customer(ops, "acme")
    make_customer(ops, "globex")
    viewer = ops.with_token(token(ops, "acme-grafana", "tenant-viewer", "acme"))

    assert [t["id"] for t in viewer.must("GET", T)["items"]] == ["acme"]
    viewer.must("GET", f"{T}/acme")
    assert [u["username"] for u in viewer.must("GET", f"{T}/acme/users")["items"]] == \
        ["alice", "bob"]
    viewer.must("GET", f"{T}/acme/policies/staff")
    viewer.must("GET", f"{T}/acme/radius-servers")
    viewer.must("GET", "/api/v1/audit")

    # Nothing of globex: 404 exactly as for a tenant that does not exist.
    for path in (f"{T}/globex", f"{T}/globex/users", f"{T}/globex/users/alice",
                 f"{T}/globex/policies", f"{T}/globex/radius-servers/primary",
                 f"{T}/nosuch", f"{T}/nosuch/users"):
        r = viewer.get(path)
        assert r.status == 404, r
    assert viewer.get(f"{T}/globex")["detail"] == viewer.get(f"{T}/nosuch")["detail"].replace(
        "nosuch", "globex")
    r = viewer.get("/api/v1/audit?tenant=globex")
    assert r.status == 404, r

    # It can change nothing.
    before = db_snapshot(ops.daemon)
    attempts = [
        ("POST", f"{T}/acme/users", {"username": "mallory"}),
        ("PATCH", f"{T}/acme/users/alice", {"enabled": False}),
        ("DELETE", f"{T}/acme/users/bob", None),
        ("PATCH", f"{T}/acme", {"name": "Pwned"}),
        ("POST", f"{T}/acme/policies", {"name": "x"}),
        ("PATCH", f"{T}/acme/radius-servers/primary", {"secret": "x"}),
        ("POST", "/api/v1/tokens", {"name": "x", "role": "tenant-viewer", "tenant": "acme"}),
        ("POST", T, tenant_body("evil")),
        ("DELETE", f"{T}/acme", None),
    ]
    for method, path, body in attempts:
        r = viewer.request(method, path, body)
        assert r.status == 403, r
    # Writes to another tenant are 404, not 403: globex stays invisible.
    r = viewer.patch(f"{T}/globex/users/alice", {"enabled": False})
    assert r.status == 404, r
    assert db_snapshot(ops.daemon) == before


def test_tenant_admin_manages_its_tenant_but_no_other_or_role(ops):
    make_customer(ops, "acme")
    make_customer(ops, "globex")
    admin = ops.with_token(token(ops, "acme-it", "tenant-admin", "acme"))

    admin.must("POST", f"{T}/acme/users", {"username": "carol", "policy": "staff"}, status=201)
    admin.must("PATCH", f"{T}/acme/users/bob", {"display_name": "Bob B."})
    admin.must("PATCH", f"{T}/acme", {"name": "ACME Inc."})
    # A dashboard token for its own tenant is fine.
    r = admin.must("POST", "/api/v1/tokens", {"name": "acme-dash", "role": "tenant-viewer"},
                   status=201)
    assert r["tenant"] == "acme"

    before = db_snapshot(ops.daemon)
    # What decides where clients land, and the host's devices, stay the
    # operator's: a tenant-admin cannot claim another customer's realm.
    for patch, field in (({"realms": ["globex-two.example"]}, "realms"),
                         ({"gateway_ids": []}, "gateway_ids"),
                         ({"network": {"mtu": 1300}}, "network"),
                         ({"enabled": False}, "enabled")):
        r = admin.patch(f"{T}/acme", patch)
        assert r.status == 403 and r.problem_field() == field, r
    for body, field in (({"name": "x", "role": "operator"}, "role"),
                        ({"name": "x", "role": "tenant-admin", "tenant": "globex"}, "tenant"),
                        ({"name": "x", "role": "tenant-viewer", "tenant": "nosuch"}, "tenant")):
        r = admin.post("/api/v1/tokens", body)
        assert r.status == 403 and r.problem_field() == field, r
    for method, path, body in (("POST", T, tenant_body("evil")),
                               ("DELETE", f"{T}/acme", None)):
        assert admin.request(method, path, body).status == 403
    for method, path, body in (("GET", f"{T}/globex", None),
                               ("POST", f"{T}/globex/users", {"username": "x"}),
                               ("DELETE", f"{T}/globex/users/alice", None)):
        assert admin.request(method, path, body).status == 404
    # Its token list holds its tenant's tokens only.
    toks = admin.must("GET", "/api/v1/tokens")["items"]
    assert {t["tenant"] for t in toks} == {"acme"}
    assert db_snapshot(ops.daemon) == before


def test_revoked_token_stops_working_and_tokens_are_stored_as_hashes(ops):
    make_customer(ops, "acme")
    tok = token(ops, "temp", "tenant-admin", "acme")
    tid = tok[4:16]  # "ist_" + 12-character id; ids may hold "_"
    temp = ops.with_token(tok)
    temp.must("GET", f"{T}/acme")
    row = ops.daemon.query("SELECT hash FROM api_tokens WHERE id = ?", (tid,))[0][0]
    assert len(bytes(row)) == 32 and tok.encode() not in bytes(row)
    listed = ops.must("GET", f"/api/v1/tokens/{tid}")
    assert "token" not in listed.json and listed["revoked_at"] is None
    ops.must("DELETE", f"/api/v1/tokens/{tid}", status=204)
    r = temp.get(f"{T}/acme")
    assert r.status == 401, r
    assert ops.must("GET", f"/api/v1/tokens/{tid}")["revoked_at"] is not None


def test_audit_log_records_each_change_with_secrets_redacted(ops):
    make_customer(ops, "acme")
    ops.must("PATCH", f"{T}/acme/radius-servers/primary", {"secret": "rotated-secret-42"})
    ops.must("PATCH", f"{T}/acme/users/alice", {"enabled": False})
    ops.must("DELETE", f"{T}/acme/users/bob", status=204)
    entries = ops.list_all("/api/v1/audit?tenant=acme")
    seen = [(e["resource"], e["resource_id"], e["action"]) for e in reversed(entries)]
    assert seen == [("tenant", "acme", "create"), ("policy", "staff", "create"),
                    ("user", "alice", "create"), ("user", "bob", "create"),
                    ("radius server", "primary", "create"),
                    ("radius server", "primary", "update"),
                    ("user", "alice", "update"), ("user", "bob", "delete")]
    actor = ops.token[4:16]
    assert {e["actor"] for e in entries} == {actor}
    rad = [e for e in entries if e["resource"] == "radius server"]
    assert all(e["changes"]["secret"] == "***" for e in rad)
    assert entries[1]["changes"] == {"enabled": False}
    text = repr(ops.daemon.query("SELECT * FROM audit_log"))
    assert "acme-radius-secret" not in text and "rotated-secret-42" not in text
    assert "rotated-secret-42" not in ops.daemon.log()
    # Filters: actor, resource, time.
    assert ops.must("GET", f"/api/v1/audit?actor={actor}&resource=user")["items"]
    assert ops.must("GET", "/api/v1/audit?actor=nobody")["items"] == []
    assert ops.must("GET", "/api/v1/audit?until=2000-01-01T00:00:00Z")["items"] == []
    assert len(ops.must("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z&tenant=acme")
               ["items"]) == 8
    r = ops.get("/api/v1/audit?since=yesterday")
    assert r.status == 400 and r.problem_field() == "since"
    # A tenant's viewer sees its own tenant's entries only.
    ops.must("POST", T, tenant_body("globex"), status=201)
    viewer = ops.with_token(token(ops, "v", "tenant-viewer", "acme"))
    assert {e["tenant"] for e in viewer.list_all("/api/v1/audit")} == {"acme"}


def test_changes_reach_the_daemon_and_sessions_are_ended(ops):
    d = ops.daemon
    mark = d.log_size()
    make_customer(ops, "acme")
    # The IKE thread's tenant snapshot is rebuilt without a restart.
    d.wait_log(r"configuration snapshot \d+ in use \(1 tenants?\)", start=mark)
    mark = d.log_size()
    ops.must("PATCH", f"{T}/acme/users/alice", {"enabled": False})
    d.wait_log(r"\[tenant=acme\] ending the live sessions of user alice", start=mark)
    ops.must("DELETE", f"{T}/acme/users/bob", status=204)
    d.wait_log(r"\[tenant=acme\] ending the live sessions of user bob", start=mark)
    ops.must("DELETE", f"{T}/acme", status=204)
    d.wait_log(r"\[tenant=acme\] ending the live sessions of the whole tenant", start=mark)
    d.wait_log(r"tenant acme deleted by token", start=mark)
    d.wait_log(r"configuration snapshot \d+ in use \(0 tenants\)", start=mark)
    assert ops.get(f"{T}/acme").status == 404
    assert d.query("SELECT count(*) FROM users") == [(0,)]
