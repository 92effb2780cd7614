/* Tenants: /api/v1/tenants[/{id}]. */
#include <stdio.h>
#include <string.h>

#include "api/certs.h"
#include "api/check.h"
#include "api/conn.h"
#include "api/resource.h"
#include "api/server.h"

static const char *const ca_key_types[] = {"ecdsa-p256", "rsa-3072", NULL};

static const struct api_field network_fields[] = {
    {.name = "ifname",
     .type = AT_STRING,
     .flags = AF_REQUIRED,
     .min = 1,
     .max = 15,
     .column = "ifname",
     .check = api_check_ifname},
    {.name = "netns",
     .type = AT_STRING,
     .flags = AF_NULLABLE,
     .min = 1,
     .max = 64,
     .column = "netns",
     .check = api_check_netns},
    {.name = "mtu", .type = AT_INT, .min = 1280, .max = 9000, .column = "mtu", .def = "1400"},
    {0},
};

static const struct api_field tenant_fields[] = {
    {.name = "id",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_IMMUTABLE,
     .min = 1,
     .max = 63,
     .column = "id",
     .check = api_check_slug},
    {.name = "name",
     .type = AT_STRING,
     .flags = AF_REQUIRED,
     .min = 1,
     .max = 128,
     .column = "name"},
    {.name = "enabled", .type = AT_BOOL, .column = "enabled", .def = "true"},
    {.name = "gateway_ids",
     .type = AT_STRLIST,
     .min = 0,
     .max = 64,
     .def = "[]",
     .check = api_check_identity,
     .sql = "SELECT group_concat(identity, char(31)) FROM (SELECT identity FROM gateway_ids g "
            "WHERE g.tenant_id = t.id ORDER BY g.rowid)"},
    {.name = "realms",
     .type = AT_STRLIST,
     .min = 0,
     .max = 64,
     .def = "[]",
     .check = api_check_domain,
     .sql = "SELECT group_concat(realm, char(31)) FROM (SELECT realm FROM realms r "
            "WHERE r.tenant_id = t.id ORDER BY r.rowid)"},
    {.name = "network", .type = AT_OBJECT, .flags = AF_REQUIRED, .sub = network_fields},
    {.name = "default_policy",
     .type = AT_STRING,
     .flags = AF_NULLABLE,
     .min = 1,
     .max = 63,
     .column = "default_policy",
     .check = api_check_name},
    {.name = "ca_key_type",
     .type = AT_STRING,
     .flags = AF_CREATEONLY,
     .min = 1,
     .max = 16,
     .def = "\"ecdsa-p256\"",
     .enums = ca_key_types},
    {.name = "created_at", .type = AT_TIME, .flags = AF_READONLY, .column = "created_at"},
    {.name = "updated_at", .type = AT_TIME, .flags = AF_READONLY, .column = "updated_at"},
    {0},
};

/* Identities and realms pick the tenant a client lands in: unique across
 * tenants. The other tenant is not named. */
static int check_unique(struct api_ctx *c, json_object *doc, const char *field, const char *sql)
{
    json_object *arr = NULL;
    json_object_object_get_ex(doc, field, &arr);
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_object_get_string(json_object_array_get_idx(arr, i));
        sqlite3_stmt *st = api_stmt(c->req->db, sql);
        if (!st)
            return -1;
        sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->tenant, -1, SQLITE_STATIC);
        bool taken = sqlite3_step(st) == SQLITE_ROW;
        api_stmt_done(st);
        if (taken) {
            char path[64];
            snprintf(path, sizeof(path), "%s[%zu]", field, i);
            api_problem_set(c->p, 409, path, "%s: '%.80s' is already used by another tenant", path,
                            v);
            return -1;
        }
    }
    return 0;
}

static int check(struct api_ctx *c, json_object *doc, json_object *old)
{
    if (!old && !json_object_object_get_ex(doc, "default_policy", NULL))
        json_object_object_add(doc, "default_policy", json_object_new_string("default"));
    if (check_unique(c, doc, "gateway_ids",
                     "SELECT 1 FROM gateway_ids WHERE identity = ?1 AND tenant_id <> ?2") < 0 ||
        check_unique(c, doc, "realms",
                     "SELECT 1 FROM realms WHERE realm = ?1 AND tenant_id <> ?2") < 0)
        return -1;
    json_object *dp = NULL;
    if (old && json_object_object_get_ex(doc, "default_policy", &dp) && dp) {
        sqlite3_stmt *st =
            api_stmt(c->req->db, "SELECT 1 FROM policies WHERE tenant_id = ? AND name = ?");
        if (!st)
            return -1;
        sqlite3_bind_text(st, 1, c->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_object_get_string(dp), -1, SQLITE_STATIC);
        bool found = sqlite3_step(st) == SQLITE_ROW;
        api_stmt_done(st);
        if (!found) {
            api_problem_set(c->p, 400, "default_policy",
                            "default_policy: no policy '%.63s' in this tenant",
                            json_object_get_string(dp));
            return -1;
        }
    }
    return 0;
}

static int save_list(struct api_ctx *c, json_object *doc, const char *field, const char *del,
                     const char *ins)
{
    sqlite3 *db = c->req->db;
    sqlite3_stmt *st = api_stmt(db, del);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, c->tenant, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    api_stmt_done(st);
    if (rc != SQLITE_DONE)
        return -1;
    json_object *arr = NULL;
    json_object_object_get_ex(doc, field, &arr);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        st = api_stmt(db, ins);
        if (!st)
            return -1;
        sqlite3_bind_text(st, 1, c->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_object_get_string(json_object_array_get_idx(arr, i)), -1,
                          SQLITE_STATIC);
        rc = sqlite3_step(st);
        api_stmt_done(st);
        if (rc != SQLITE_DONE) {
            char path[64];
            snprintf(path, sizeof(path), "%s[%zu]", field, i);
            api_problem_set(c->p, 409, path, "%s: already used", path);
            return -1;
        }
    }
    return 0;
}

static int save(struct api_ctx *c, sqlite3_int64 rowid, json_object *doc, json_object *old)
{
    (void)rowid;
    if (save_list(c, doc, "gateway_ids", "DELETE FROM gateway_ids WHERE tenant_id = ?",
                  "INSERT INTO gateway_ids (tenant_id, identity) VALUES (?, ?)") < 0 ||
        save_list(c, doc, "realms", "DELETE FROM realms WHERE tenant_id = ?",
                  "INSERT INTO realms (tenant_id, realm) VALUES (?, ?)") < 0)
        return -1;
    if (!old) {
        json_object *name = NULL, *kt = NULL;
        json_object_object_get_ex(doc, "name", &name);
        json_object_object_get_ex(doc, "ca_key_type", &kt);
        if (api_ca_create(c->req, c->tenant, json_object_get_string(name),
                          kt ? json_object_get_string(kt) : "ecdsa-p256", c->p) < 0)
            return -1;
    }
    json_object *dp = NULL;
    if (!old && json_object_object_get_ex(doc, "default_policy", &dp) && dp) {
        /* A new tenant gets its default policy, with the safe defaults. */
        json_object *pol = json_object_new_object();
        json_object_object_add(pol, "name", json_object_get(dp));
        int rc = api_res_insert(c->req, &api_res_policies, c->tenant, pol, c->p);
        json_object_put(pol);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int before_delete(struct api_ctx *c, sqlite3_int64 rowid, json_object *old)
{
    (void)rowid;
    (void)old;
    const struct api_deps *d = c->req->deps;
    int live = d && d->sessions_of_tenant ? d->sessions_of_tenant(d->arg, c->tenant) : 0;
    if (live > 0 && !c->force) {
        api_problem_set(c->p, 409, NULL,
                        "tenant '%.63s' has %d live session%s; DELETE with ?force=true ends them",
                        c->tenant, live, live == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

static void after(struct api_ctx *c, enum api_action a, json_object *doc, json_object *old)
{
    json_object *en = NULL, *was = NULL;
    bool disabled = a == API_ACT_UPDATE && json_object_object_get_ex(doc, "enabled", &en) &&
                    json_object_object_get_ex(old, "enabled", &was) &&
                    json_object_get_boolean(was) && !json_object_get_boolean(en);
    if (a == API_ACT_DELETE || disabled)
        api_notify_terminate(c->req, c->tenant, NULL);
    api_notify_config(c->req, c->tenant);
}

static const char *const operator_fields[] = {"gateway_ids", "realms", "network", "enabled", NULL};

const struct api_resource api_res_tenants = {
    .name = "tenant",
    .table = "tenants",
    .key = "id",
    .collection = "tenants",
    .tenant_scoped = false,
    .operator_only_create = true,
    .operator_fields = operator_fields,
    .fields = tenant_fields,
    .check = check,
    .save = save,
    .before_delete = before_delete,
    .after = after,
};
