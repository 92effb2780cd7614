/* Authentication and roles: see auth.h. */
#include "api/auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/conn.h"
#include "api/problem.h"

const char *api_role_name(enum api_role r)
{
    switch (r) {
    case API_ROLE_OPERATOR:
        return "operator";
    case API_ROLE_TENANT_ADMIN:
        return "tenant-admin";
    case API_ROLE_TENANT_VIEWER:
        return "tenant-viewer";
    default:
        return "none";
    }
}

enum api_role api_role_parse(const char *s)
{
    if (!strcmp(s, "operator"))
        return API_ROLE_OPERATOR;
    if (!strcmp(s, "tenant-admin"))
        return API_ROLE_TENANT_ADMIN;
    if (!strcmp(s, "tenant-viewer"))
        return API_ROLE_TENANT_VIEWER;
    return API_ROLE_NONE;
}

static bool unauthorized(struct api_resp *resp, const char *why)
{
    api_problem(resp, 401, NULL, "%s", why);
    return false;
}

bool api_authenticate(struct api_req *req, const char *authorization, struct api_resp *resp)
{
    if (!authorization)
        return unauthorized(resp, "an Authorization: Bearer token is required");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return unauthorized(resp, "the Authorization header must be 'Bearer <token>'");
    const char *text = authorization + 7;
    while (*text == ' ')
        text++;
    char id[TOKEN_ID_LEN + 1];
    if (!token_parse_id(text, id))
        return unauthorized(resp, "the token is not valid");

    sqlite3_stmt *st = api_stmt(req->db, "SELECT hash, role, tenant_id FROM api_tokens "
                                         "WHERE id = ? AND revoked_at IS NULL");
    if (!st) {
        api_problem(resp, 500, NULL, "the token store cannot be read");
        return false;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    bool ok = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const void *hash = sqlite3_column_blob(st, 0);
        int hlen = sqlite3_column_bytes(st, 0);
        const char *role = (const char *)sqlite3_column_text(st, 1);
        const char *tenant = (const char *)sqlite3_column_text(st, 2);
        if (hash && token_matches(text, hash, (size_t)hlen) && role) {
            req->who.role = api_role_parse(role);
            memcpy(req->who.token_id, id, sizeof(id));
            snprintf(req->who.tenant, sizeof(req->who.tenant), "%s", tenant ? tenant : "");
            ok = req->who.role != API_ROLE_NONE;
        }
    } else {
        /* Same work as a match, so a wrong id takes as long as a wrong secret. */
        uint8_t dummy[TOKEN_HASH_LEN] = {0};
        (void)token_matches(text, dummy, sizeof(dummy));
    }
    api_stmt_done(st);
    if (!ok)
        return unauthorized(resp, "the token is not valid or has been revoked");
    return true;
}

const char *api_caller_tenant(const struct api_req *req)
{
    return req->who.role == API_ROLE_OPERATOR ? NULL : req->who.tenant;
}

bool api_may_read(const struct api_req *req, const char *tenant, struct api_resp *resp)
{
    if (req->who.role == API_ROLE_OPERATOR)
        return true;
    if (tenant && !strcmp(tenant, req->who.tenant))
        return true;
    api_problem(resp, 404, NULL, "no tenant '%.64s'", tenant ? tenant : "");
    return false;
}

bool api_may_write(const struct api_req *req, const char *tenant, struct api_resp *resp)
{
    if (!api_may_read(req, tenant, resp))
        return false;
    if (req->who.role == API_ROLE_TENANT_VIEWER) {
        api_problem(resp, 403, NULL, "a tenant-viewer token can only read");
        return false;
    }
    return true;
}

bool api_require_operator(const struct api_req *req, struct api_resp *resp)
{
    if (req->who.role == API_ROLE_OPERATOR)
        return true;
    api_problem(resp, 403, NULL, "this needs an operator token (this one is %s)",
                api_role_name(req->who.role));
    return false;
}
