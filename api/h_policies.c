/* Policies: /api/v1/tenants/{tenant}/policies[/{name}]. A policy holds the
 * tenant's address pools (which must not overlap each other within the
 * tenant), DNS, split routes, allowed crypto, limits and lifetimes. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "api/check.h"
#include "api/conn.h"
#include "api/resource.h"

static const struct api_field policy_fields[] = {
    {.name = "name",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_IMMUTABLE,
     .min = 1,
     .max = 63,
     .column = "name",
     .check = api_check_name},
    {.name = "pools",
     .type = AT_STRLIST,
     .min = 0,
     .max = 64,
     .def = "[]",
     .check = api_check_cidr,
     .sql = "SELECT group_concat(cidr, char(31)) FROM (SELECT cidr FROM pools p "
            "WHERE p.policy_id = t.id ORDER BY p.id)"},
    {.name = "dns_servers",
     .type = AT_STRLIST,
     .min = 0,
     .max = 8,
     .column = "dns_servers",
     .def = "[]",
     .check = api_check_ip},
    {.name = "search_domains",
     .type = AT_STRLIST,
     .min = 0,
     .max = 16,
     .column = "search_domains",
     .def = "[]",
     .check = api_check_domain},
    {.name = "split_routes",
     .type = AT_STRLIST,
     .min = 0,
     .max = 256,
     .column = "split_routes",
     .def = "[]",
     .check = api_check_cidr},
    {.name = "ike_proposals",
     .type = AT_STRLIST,
     .min = 0,
     .max = 32,
     .column = "ike_proposals",
     .def = "[\"aes256gcm16-prfsha384-ecp384\",\"aes128gcm16-prfsha256-ecp256\","
            "\"aes256-sha256-modp2048\",\"chacha20poly1305-prfsha256-curve25519\"]",
     .check = api_check_ike_proposal},
    {.name = "esp_proposals",
     .type = AT_STRLIST,
     .min = 0,
     .max = 32,
     .column = "esp_proposals",
     .def = "[\"aes256gcm16\",\"aes128gcm16\",\"chacha20poly1305\",\"aes256-sha256\"]",
     .check = api_check_esp_proposal},
    {.name = "allow_weak_crypto", .type = AT_BOOL, .column = "allow_weak_crypto", .def = "false"},
    {.name = "sessions_per_user",
     .type = AT_INT,
     .min = 0,
     .max = 1000,
     .column = "sessions_per_user",
     .def = "0"},
    {.name = "idle_timeout",
     .type = AT_INT,
     .min = 0,
     .max = 604800,
     .column = "idle_timeout",
     .def = "0"},
    {.name = "ike_lifetime",
     .type = AT_INT,
     .min = 5,
     .max = 604800,
     .column = "ike_lifetime",
     .def = "14400"},
    {.name = "child_lifetime",
     .type = AT_INT,
     .min = 5,
     .max = 604800,
     .column = "child_lifetime",
     .def = "3600"},
    {.name = "child_lifetime_bytes",
     .type = AT_INT,
     .min = 0,
     .max = 1000000000000000LL,
     .column = "child_lifetime_bytes",
     .def = "0"},
    {.name = "child_lifetime_packets",
     .type = AT_INT,
     .min = 0,
     .max = 1000000000000LL,
     .column = "child_lifetime_packets",
     .def = "0"},
    {.name = "reauth_interval",
     .type = AT_INT,
     .min = 0,
     .max = 2592000,
     .column = "reauth_interval",
     .def = "0"},
    {.name = "acct_interim_interval",
     .type = AT_INT,
     .min = 0,
     .max = 86400,
     .column = "acct_interim_interval",
     .def = "0"},
    {.name = "created_at", .type = AT_TIME, .flags = AF_READONLY, .column = "created_at"},
    {.name = "updated_at", .type = AT_TIME, .flags = AF_READONLY, .column = "updated_at"},
    {0},
};

/* Rewrites each CIDR of a list into canonical text (fd00:0::/64 -> fd00::/64). */
static void canonical_cidrs(json_object *arr)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        struct api_cidr c;
        if (!api_cidr_parse(json_object_get_string(json_object_array_get_idx(arr, i)), &c))
            continue;
        char addr[INET6_ADDRSTRLEN], text[64];
        inet_ntop(c.family == 4 ? AF_INET : AF_INET6, c.addr, addr, sizeof(addr));
        snprintf(text, sizeof(text), "%s/%u", addr, c.plen);
        json_object_array_put_idx(arr, i, json_object_new_string(text));
    }
}

static int check_weak(struct api_ctx *c, json_object *doc, const char *field)
{
    json_object *arr = NULL, *weak = NULL;
    json_object_object_get_ex(doc, field, &arr);
    json_object_object_get_ex(doc, "allow_weak_crypto", &weak);
    if (json_object_get_boolean(weak))
        return 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        const char *prop = json_object_get_string(json_object_array_get_idx(arr, i));
        if (api_proposal_is_weak(prop)) {
            char path[64];
            snprintf(path, sizeof(path), "%s[%zu]", field, i);
            api_problem_set(c->p, 400, path,
                            "%s: '%.80s' uses a weak algorithm (3DES, SHA-1, MD5, MODP-768/1024/"
                            "1536); set allow_weak_crypto to allow it",
                            path, prop);
            return -1;
        }
    }
    return 0;
}

static int check(struct api_ctx *c, json_object *doc, json_object *old)
{
    json_object *pools = NULL, *routes = NULL, *name = NULL;
    json_object_object_get_ex(doc, "pools", &pools);
    json_object_object_get_ex(doc, "split_routes", &routes);
    json_object_object_get_ex(doc, "name", &name);
    canonical_cidrs(pools);
    canonical_cidrs(routes);
    if (check_weak(c, doc, "ike_proposals") < 0 || check_weak(c, doc, "esp_proposals") < 0)
        return -1;
    size_t n = json_object_array_length(pools);
    struct api_cidr mine[64];
    for (size_t i = 0; i < n && i < 64; i++) {
        char path[32];
        snprintf(path, sizeof(path), "pools[%zu]", i);
        const char *text = json_object_get_string(json_object_array_get_idx(pools, i));
        api_cidr_parse(text, &mine[i]);
        for (size_t j = 0; j < i; j++)
            if (api_cidr_overlap(&mine[i], &mine[j])) {
                api_problem_set(c->p, 409, path, "%s: '%s' overlaps pools[%zu] of this policy",
                                path, text, j);
                return -1;
            }
    }
    /* Pools of the tenant's other policies. */
    sqlite3_stmt *st = api_stmt(c->req->db, "SELECT p.cidr, q.name FROM pools p JOIN policies q "
                                            "ON q.id = p.policy_id WHERE p.tenant_id = ?1 AND "
                                            "q.name <> ?2");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, c->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json_object_get_string(name), -1, SQLITE_STATIC);
    int rc = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        struct api_cidr other;
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (!text || !api_cidr_parse(text, &other))
            continue;
        for (size_t i = 0; i < n && i < 64; i++)
            if (api_cidr_overlap(&mine[i], &other)) {
                char path[32];
                snprintf(path, sizeof(path), "pools[%zu]", i);
                api_problem_set(c->p, 409, path,
                                "%s: '%s' overlaps pool '%s' of policy '%.63s' in this tenant",
                                path, json_object_get_string(json_object_array_get_idx(pools, i)),
                                text, (const char *)sqlite3_column_text(st, 1));
                rc = -1;
                break;
            }
    }
    api_stmt_done(st);
    (void)old;
    return rc;
}

static int save(struct api_ctx *c, sqlite3_int64 rowid, json_object *doc, json_object *old)
{
    (void)old;
    sqlite3 *db = c->req->db;
    sqlite3_stmt *st = api_stmt(db, "DELETE FROM pools WHERE policy_id = ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rowid);
    int rc = sqlite3_step(st);
    api_stmt_done(st);
    if (rc != SQLITE_DONE)
        return -1;
    json_object *pools = NULL;
    json_object_object_get_ex(doc, "pools", &pools);
    for (size_t i = 0; i < json_object_array_length(pools); i++) {
        const char *text = json_object_get_string(json_object_array_get_idx(pools, i));
        struct api_cidr cidr;
        api_cidr_parse(text, &cidr);
        st = api_stmt(db, "INSERT INTO pools (tenant_id, policy_id, cidr, family) "
                          "VALUES (?, ?, ?, ?)");
        if (!st)
            return -1;
        sqlite3_bind_text(st, 1, c->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, rowid);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, cidr.family);
        rc = sqlite3_step(st);
        api_stmt_done(st);
        if (rc != SQLITE_DONE) {
            char path[32];
            snprintf(path, sizeof(path), "pools[%zu]", i);
            api_problem_set(c->p, 409, path, "%s: '%s' is already a pool of this tenant", path,
                            text);
            return -1;
        }
    }
    return 0;
}

static int before_delete(struct api_ctx *c, sqlite3_int64 rowid, json_object *old)
{
    (void)rowid;
    json_object *name = NULL;
    json_object_object_get_ex(old, "name", &name);
    sqlite3_stmt *st =
        api_stmt(c->req->db, "SELECT 1 FROM tenants WHERE id = ? AND default_policy = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, c->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json_object_get_string(name), -1, SQLITE_STATIC);
    bool is_default = sqlite3_step(st) == SQLITE_ROW;
    api_stmt_done(st);
    if (is_default) {
        api_problem_set(c->p, 409, NULL,
                        "policy '%.63s' is the tenant's default_policy; choose another first",
                        json_object_get_string(name));
        return -1;
    }
    return 0;
}

const struct api_resource api_res_policies = {
    .name = "policy",
    .table = "policies",
    .key = "name",
    .collection = "policies",
    .tenant_scoped = true,
    .fields = policy_fields,
    .check = check,
    .save = save,
    .before_delete = before_delete,
    .after = api_after_config_changed,
};
