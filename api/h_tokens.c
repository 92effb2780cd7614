/* API tokens: /api/v1/tokens[/{id}]. The token text is shown once, in the
 * 201 of its creation; only its SHA-256 is stored. A tenant-admin may make
 * tenant-admin and tenant-viewer tokens of its own tenant only. */
#include <stdio.h>
#include <string.h>

#include "api/auth.h"
#include "api/check.h"
#include "api/conn.h"
#include "api/handlers.h"
#include "api/problem.h"
#include "api/resource.h"
#include "api/page.h"
#include "db/audit.h"
#include "db/db.h"
#include "db/tokens.h"

#include <openssl/crypto.h>

static const char *const roles[] = {"operator", "tenant-admin", "tenant-viewer", NULL};

const struct api_field api_token_fields[] = {
    {.name = "name", .type = AT_STRING, .flags = AF_REQUIRED, .min = 1, .max = 128},
    {.name = "role", .type = AT_STRING, .flags = AF_REQUIRED, .min = 1, .max = 16, .enums = roles},
    {.name = "tenant",
     .type = AT_STRING,
     .flags = AF_NULLABLE,
     .min = 1,
     .max = 63,
     .check = api_check_slug},
    {0},
};

#define TOKEN_COLS "id, name, role, tenant_id, created_at, created_by, revoked_at"

static json_object *token_doc(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    char ts[32];
    json_object_object_add(o, "id",
                           json_object_new_string((const char *)sqlite3_column_text(st, 0)));
    json_object_object_add(o, "name",
                           json_object_new_string((const char *)sqlite3_column_text(st, 1)));
    json_object_object_add(o, "role",
                           json_object_new_string((const char *)sqlite3_column_text(st, 2)));
    const char *t = (const char *)sqlite3_column_text(st, 3);
    json_object_object_add(o, "tenant", t ? json_object_new_string(t) : NULL);
    api_time_str(sqlite3_column_int64(st, 4), ts, sizeof(ts));
    json_object_object_add(o, "created_at", json_object_new_string(ts));
    const char *by = (const char *)sqlite3_column_text(st, 5);
    json_object_object_add(o, "created_by", by ? json_object_new_string(by) : NULL);
    if (sqlite3_column_type(st, 6) == SQLITE_NULL) {
        json_object_object_add(o, "revoked_at", NULL);
    } else {
        api_time_str(sqlite3_column_int64(st, 6), ts, sizeof(ts));
        json_object_object_add(o, "revoked_at", json_object_new_string(ts));
    }
    return o;
}

/* The token row visible to the caller, or NULL. */
static json_object *load(struct api_req *req, const char *id, char *tenant, size_t cap)
{
    sqlite3_stmt *st = api_stmt(req->db, "SELECT " TOKEN_COLS " FROM api_tokens WHERE id = ?");
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    json_object *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 3);
        const char *mine = api_caller_tenant(req);
        if (!mine || (t && !strcmp(t, mine))) {
            o = token_doc(st);
            snprintf(tenant, cap, "%s", t ? t : "");
        }
    }
    api_stmt_done(st);
    return o;
}

void api_h_tokens_list(struct api_req *req, struct api_resp *resp)
{
    struct api_page pg;
    if (!api_page_parse(req, &pg, resp))
        return;
    const char *mine = api_caller_tenant(req);
    sqlite3_stmt *st = api_stmt(req->db, "SELECT " TOKEN_COLS " FROM api_tokens "
                                         "WHERE (?1 IS NULL OR tenant_id = ?1) AND id > ?2 "
                                         "ORDER BY id LIMIT ?3");
    if (!st) {
        api_problem(resp, 500, NULL, "the tokens cannot be read");
        return;
    }
    if (mine)
        sqlite3_bind_text(st, 1, mine, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pg.has_after ? pg.after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)pg.limit + 1);
    json_object *items = json_object_new_array();
    unsigned n = 0;
    char last[API_PARAM_MAX] = "";
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == pg.limit) {
            more = true;
            break;
        }
        json_object_array_add(items, token_doc(st));
        snprintf(last, sizeof(last), "%s", (const char *)sqlite3_column_text(st, 0));
        n++;
    }
    api_stmt_done(st);
    api_page_send(resp, items, more ? last : NULL);
}

void api_h_tokens_get(struct api_req *req, struct api_resp *resp)
{
    char tenant[API_TENANT_MAX];
    json_object *o = load(req, req->params[0], tenant, sizeof(tenant));
    if (!o) {
        api_problem(resp, 404, NULL, "no token '%.20s'", req->params[0]);
        return;
    }
    api_resp_json(resp, 200, o);
}

void api_h_tokens_create(struct api_req *req, struct api_resp *resp)
{
    if (req->who.role == API_ROLE_TENANT_VIEWER) {
        api_problem(resp, 403, NULL, "a tenant-viewer token can only read");
        return;
    }
    json_object *body = api_body(req, false, resp), *out = NULL;
    if (!body)
        return;
    struct api_problem p = {0};
    char text[TOKEN_TEXT_MAX] = "", id[TOKEN_ID_LEN + 1];
    if (api_validate(api_token_fields, body, API_V_CREATE, NULL, &p) < 0)
        goto problem_nodb;
    json_object *jn = NULL, *jr = NULL, *jt = NULL;
    json_object_object_get_ex(body, "name", &jn);
    json_object_object_get_ex(body, "role", &jr);
    json_object_object_get_ex(body, "tenant", &jt);
    const char *role = json_object_get_string(jr);
    const char *tenant = jt ? json_object_get_string(jt) : NULL;
    const char *mine = api_caller_tenant(req);
    bool operator_role = !strcmp(role, "operator");
    if (mine) {
        if (operator_role) {
            api_problem_set(&p, 403, "role", "role: a tenant-admin cannot create operator tokens");
            goto problem_nodb;
        }
        if (tenant && strcmp(tenant, mine) != 0) {
            api_problem_set(&p, 403, "tenant",
                            "tenant: a tenant-admin can only create tokens of its own tenant");
            goto problem_nodb;
        }
        tenant = mine;
    }
    if (operator_role && tenant) {
        api_problem_set(&p, 400, "tenant", "tenant: an operator token has no tenant");
        goto problem_nodb;
    }
    if (!operator_role && !tenant) {
        api_problem_set(&p, 400, "tenant", "tenant: is required for role %s", role);
        goto problem_nodb;
    }
    if (token_generate(text, id) < 0) {
        api_problem_set(&p, 500, NULL, "no randomness for a token");
        goto problem_nodb;
    }
    uint8_t hash[TOKEN_HASH_LEN];
    token_hash(text, hash);
    if (db_begin(req->db) != SQLITE_OK) {
        api_problem_set(&p, 503, NULL, "the database is busy; retry");
        goto problem_nodb;
    }
    if (tenant && !api_tenant_exists(req->db, tenant)) {
        api_problem_set(&p, 400, "tenant", "tenant: no tenant '%.63s'", tenant);
        goto problem;
    }
    int rc = db_token_insert(req->db, id, json_object_get_string(jn), role, tenant, hash,
                             sizeof(hash), req->who.token_id);
    json_object *changes = json_object_new_object();
    json_object_object_add(changes, "name", json_object_get(jn));
    json_object_object_add(changes, "role", json_object_get(jr));
    json_object_object_add(changes, "tenant", tenant ? json_object_new_string(tenant) : NULL);
    if (rc == SQLITE_OK)
        rc = db_audit_insert(req->db, req->who.token_id, tenant, "token", id, "create",
                             json_object_to_json_string_ext(changes, JSON_C_TO_STRING_PLAIN));
    json_object_put(changes);
    char t[API_TENANT_MAX];
    if (rc != SQLITE_OK || !(out = load(req, id, t, sizeof(t))) ||
        db_commit(req->db) != SQLITE_OK) {
        api_problem_set(&p, 500, NULL, "the token cannot be stored");
        goto problem;
    }
    json_object_object_add(out, "token", json_object_new_string(text));
    snprintf(resp->location, sizeof(resp->location), "/api/v1/tokens/%s", id);
    api_resp_json(resp, 201, out);
    goto done;
problem:
    db_rollback(req->db);
problem_nodb:
    api_problem_send(resp, &p);
done:
    OPENSSL_cleanse(text, sizeof(text));
    json_object_put(body);
}

void api_h_tokens_revoke(struct api_req *req, struct api_resp *resp)
{
    if (req->who.role == API_ROLE_TENANT_VIEWER) {
        api_problem(resp, 403, NULL, "a tenant-viewer token can only read");
        return;
    }
    if (db_begin(req->db) != SQLITE_OK) {
        api_problem(resp, 503, NULL, "the database is busy; retry");
        return;
    }
    char tenant[API_TENANT_MAX];
    json_object *o = load(req, req->params[0], tenant, sizeof(tenant));
    if (!o) {
        db_rollback(req->db);
        api_problem(resp, 404, NULL, "no token '%.20s'", req->params[0]);
        return;
    }
    json_object_put(o);
    sqlite3_stmt *st = api_stmt(req->db, "UPDATE api_tokens SET revoked_at = ? "
                                         "WHERE id = ? AND revoked_at IS NULL");
    int rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, db_now());
        sqlite3_bind_text(st, 2, req->params[0], -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        bool changed = sqlite3_changes(req->db) > 0;
        api_stmt_done(st);
        if (rc == SQLITE_OK && changed)
            rc = db_audit_insert(req->db, req->who.token_id, tenant[0] ? tenant : NULL, "token",
                                 req->params[0], "revoke", "{}");
    }
    if (rc != SQLITE_OK || db_commit(req->db) != SQLITE_OK) {
        db_rollback(req->db);
        api_problem(resp, 500, NULL, "the token cannot be revoked");
        return;
    }
    resp->status = 204;
}
