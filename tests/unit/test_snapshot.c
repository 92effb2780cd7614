/* The tenant snapshot: what the IKE thread sees of the configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth/seal.h"
#include "concentrator/snapshot.h"
#include "db/db.h"
#include "db/migrate.h"

static struct seal_key key;

static sqlite3 *fresh_db(void)
{
    char err[256];
    sqlite3 *db = db_open(":memory:", true, err, sizeof(err));
    assert_non_null(db);
    assert_true(db_migrate(db, err, sizeof(err)) >= 0);
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static void add_radius(sqlite3 *db, const char *tenant, const char *name, int prio,
                       const char *secret)
{
    uint8_t blob[128];
    long n =
        seal(&key, "radius-secret", (const uint8_t *)secret, strlen(secret), blob, sizeof(blob));
    assert_true(n > 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO radius_servers (tenant_id, name, host, "
                                        "secret_sealed, priority, created_at, updated_at) "
                                        "VALUES (?, ?, '127.0.0.1', ?, ?, 0, 0)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, blob, (int)n, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, prio);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static sqlite3 *two_tenants(void)
{
    sqlite3 *db = fresh_db();
    exec(db, "INSERT INTO tenants (id, name, ifname, default_policy, created_at, updated_at) "
             "VALUES ('acme', 'Acme', 'ist-acme', 'staff', 0, 0),"
             "       ('beta', 'Beta', 'ist-beta', NULL, 0, 0);"
             "INSERT INTO gateway_ids VALUES ('acme', 'vpn.acme.example'),"
             "                               ('beta', 'vpn.beta.example');"
             "INSERT INTO realms VALUES ('acme', 'acme.example'), ('beta', 'b.example');"
             "INSERT INTO policies (id, tenant_id, name, dns_servers, split_routes, "
             "  created_at, updated_at) VALUES "
             "  (1, 'acme', 'staff', '[\"10.1.0.53\"]', '[\"10.1.0.0/16\"]', 0, 0),"
             "  (2, 'acme', 'admins', '[]', '[]', 0, 0),"
             "  (3, 'beta', 'all', '[\"fd00::53\"]', '[]', 0, 0);"
             "INSERT INTO pools (tenant_id, policy_id, cidr, family) VALUES "
             "  ('acme', 1, '10.1.0.0/24', 4), ('acme', 2, '10.1.9.0/24', 4),"
             "  ('beta', 3, '10.1.0.0/24', 4);"
             "INSERT INTO groups (id, tenant_id, name, policy_id, created_at, updated_at) "
             "  VALUES (1, 'acme', 'ops', 2, 0, 0);"
             "INSERT INTO users (tenant_id, username, enabled, group_id, static_ip, "
             "  created_at, updated_at) VALUES "
             "  ('acme', 'alice', 1, NULL, NULL, 0, 0),"
             "  ('acme', 'Carol', 0, NULL, '10.1.0.77', 0, 0),"
             "  ('acme', 'olga', 1, 1, NULL, 0, 0),"
             "  ('beta', 'bob', 1, NULL, NULL, 0, 0);");
    add_radius(db, "acme", "backup", 200, "backup-secret");
    add_radius(db, "acme", "main", 100, "main-secret");
    return db;
}

static void tenants_resolve_by_gateway_id_and_realm(void **state)
{
    (void)state;
    sqlite3 *db = two_tenants();
    char err[256];
    struct snapshot *s = snapshot_load(db, &key, 1, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(s->n_tenants, 2);
    const struct snap_tenant *t = snapshot_tenant_by_gateway_id(s, "VPN.beta.example");
    assert_non_null(t);
    assert_string_equal(t->id, "beta");
    t = snapshot_tenant_by_identity_realm(s, "bob@B.Example");
    assert_non_null(t);
    assert_string_equal(t->id, "beta");
    assert_null(snapshot_tenant_by_identity_realm(s, "bob"));
    assert_null(snapshot_tenant_by_identity_realm(s, "bob@other.example"));
    assert_null(snapshot_tenant_by_gateway_id(s, "vpn.gamma.example"));
    assert_string_equal(snapshot_tenant(s, "acme")->name, "Acme");
    assert_null(snapshot_tenant(s, "zeta"));
    snapshot_unref(s);
    db_close(db);
}

static void users_get_their_policy(void **state)
{
    (void)state;
    sqlite3 *db = two_tenants();
    char err[256];
    struct snapshot *s = snapshot_load(db, &key, 1, err, sizeof(err));
    assert_non_null(s);
    const struct snap_tenant *acme = snapshot_tenant(s, "acme");
    const struct snap_user *alice = snap_tenant_user(acme, "ALICE");
    assert_non_null(alice);
    assert_true(alice->enabled);
    assert_string_equal(alice->policy->name, "staff"); /* the tenant's default */
    assert_string_equal(alice->policy->pools[0], "10.1.0.0/24");
    assert_int_equal(alice->policy->n_dns, 1);
    assert_int_equal(alice->policy->n_routes, 1);
    assert_int_equal(alice->policy->routes[0].len, 16);
    const struct snap_user *olga = snap_tenant_user(acme, "olga");
    assert_string_equal(olga->policy->name, "admins"); /* through her group */
    const struct snap_user *carol = snap_tenant_user(acme, "carol");
    assert_false(carol->enabled);
    assert_true(carol->has_static_ip);
    /* bob is beta's: not reachable through acme */
    assert_null(snap_tenant_user(acme, "bob"));
    const struct snap_tenant *beta = snapshot_tenant(s, "beta");
    assert_string_equal(snap_tenant_user(beta, "bob")->policy->name, "all");
    snapshot_unref(s);
    db_close(db);
}

static void radius_servers_in_priority_order_with_secrets(void **state)
{
    (void)state;
    sqlite3 *db = two_tenants();
    char err[256];
    struct snapshot *s = snapshot_load(db, &key, 1, err, sizeof(err));
    const struct snap_tenant *acme = snapshot_tenant(s, "acme");
    assert_int_equal(acme->n_radius, 2);
    assert_string_equal(acme->radius[0].name, "main");
    assert_int_equal(acme->radius[0].secret_len, strlen("main-secret"));
    assert_memory_equal(acme->radius[0].secret, "main-secret", strlen("main-secret"));
    assert_string_equal(acme->radius[1].name, "backup");
    assert_int_equal(snapshot_tenant(s, "beta")->n_radius, 0);
    snapshot_unref(s);

    /* Under another master key the secrets cannot be opened: the servers
     * are kept but unusable (secret_len 0), and the snapshot still loads. */
    struct seal_key other;
    memset(&other, 0x5a, sizeof(other));
    s = snapshot_load(db, &other, 2, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(snapshot_tenant(s, "acme")->radius[0].secret_len, 0);
    snapshot_unref(s);
    db_close(db);
}

static void references_keep_it_alive(void **state)
{
    (void)state;
    sqlite3 *db = two_tenants();
    char err[256];
    struct snapshot *s = snapshot_load(db, &key, 7, err, sizeof(err));
    struct snapshot *held = snapshot_ref(s);
    snapshot_unref(s);
    assert_int_equal(held->generation, 7);
    assert_string_equal(snapshot_tenant(held, "beta")->ifname, "ist-beta");
    snapshot_unref(held);
    db_close(db);
}

static int setup(void **state)
{
    (void)state;
    memset(&key, 0x42, sizeof(key));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tenants_resolve_by_gateway_id_and_realm),
        cmocka_unit_test(users_get_their_policy),
        cmocka_unit_test(radius_servers_in_priority_order_with_secrets),
        cmocka_unit_test(references_keep_it_alive),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
