/* Users and groups: /api/v1/tenants/{tenant}/users[/{username}] and
 * /groups[/{name}]. A user's static_ip lies inside a pool of the tenant and is
 * unique in it; disabling or deleting a user ends its live sessions. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "api/check.h"
#include "api/conn.h"
#include "api/resource.h"

static const char *const auth_kinds[] = {"radius", "certificate", NULL};

static const struct api_field user_fields[] = {
    {.name = "username",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_IMMUTABLE,
     .min = 1,
     .max = 253,
     .column = "username",
     .check = api_check_username},
    {.name = "display_name",
     .type = AT_STRING,
     .min = 0,
     .max = 256,
     .column = "display_name",
     .def = "\"\""},
    {.name = "email",
     .type = AT_STRING,
     .min = 0,
     .max = 254,
     .column = "email",
     .def = "\"\"",
     .check = api_check_email},
    {.name = "enabled", .type = AT_BOOL, .column = "enabled", .def = "true"},
    {.name = "policy",
     .type = AT_STRING,
     .flags = AF_NULLABLE,
     .min = 1,
     .max = 63,
     .column = "policy_id",
     .check = api_check_name,
     .ref = "policies"},
    {.name = "group",
     .type = AT_STRING,
     .flags = AF_NULLABLE,
     .min = 1,
     .max = 63,
     .column = "group_id",
     .check = api_check_name,
     .ref = "groups"},
    {.name = "static_ip",
     .type = AT_STRING,
     .flags = AF_NULLABLE,
     .min = 2,
     .max = 45,
     .column = "static_ip",
     .check = api_check_ip},
    {.name = "auth",
     .type = AT_STRING,
     .min = 1,
     .max = 16,
     .column = "auth",
     .def = "\"radius\"",
     .enums = auth_kinds},
    {.name = "created_at", .type = AT_TIME, .flags = AF_READONLY, .column = "created_at"},
    {.name = "updated_at", .type = AT_TIME, .flags = AF_READONLY, .column = "updated_at"},
    {0},
};

/* static_ip: canonical text, inside a pool of the user's policy (or of the
 * tenant when the user has none). Uniqueness is the table's constraint. */
static int check(struct api_ctx *c, json_object *doc, json_object *old)
{
    (void)old;
    json_object *ipv = NULL, *pol = NULL;
    if (!json_object_object_get_ex(doc, "static_ip", &ipv) || !ipv)
        return 0;
    struct api_cidr ip;
    if (!api_cidr_parse(json_object_get_string(ipv), &ip))
        return 0;
    char canon[INET6_ADDRSTRLEN];
    inet_ntop(ip.family == 4 ? AF_INET : AF_INET6, ip.addr, canon, sizeof(canon));
    json_object_object_add(doc, "static_ip", json_object_new_string(canon));
    json_object_object_get_ex(doc, "policy", &pol);
    sqlite3_stmt *st =
        api_stmt(c->req->db, "SELECT p.cidr FROM pools p JOIN policies q ON q.id = p.policy_id "
                             "WHERE p.tenant_id = ?1 AND (?2 IS NULL OR q.name = ?2)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, c->tenant, -1, SQLITE_STATIC);
    if (pol)
        sqlite3_bind_text(st, 2, json_object_get_string(pol), -1, SQLITE_STATIC);
    bool inside = false;
    while (!inside && sqlite3_step(st) == SQLITE_ROW) {
        struct api_cidr pool;
        const char *text = (const char *)sqlite3_column_text(st, 0);
        inside = text && api_cidr_parse(text, &pool) && api_cidr_contains(&pool, &ip);
    }
    api_stmt_done(st);
    if (!inside) {
        api_problem_set(c->p, 400, "static_ip", "static_ip: '%s' is not inside a pool of %s%s%s",
                        canon, pol ? "policy '" : "this tenant",
                        pol ? json_object_get_string(pol) : "", pol ? "'" : "");
        return -1;
    }
    return 0;
}

static void after(struct api_ctx *c, enum api_action a, json_object *doc, json_object *old)
{
    json_object *en = NULL, *was = NULL, *name = NULL;
    bool disabled = a == API_ACT_UPDATE && json_object_object_get_ex(doc, "enabled", &en) &&
                    json_object_object_get_ex(old, "enabled", &was) &&
                    json_object_get_boolean(was) && !json_object_get_boolean(en);
    api_notify_config(c->req, c->tenant); /* the IKE snapshot holds the users */
    if (a == API_ACT_DELETE || disabled) {
        json_object_object_get_ex(old, "username", &name);
        api_notify_terminate(c->req, c->tenant, json_object_get_string(name));
    }
}

const struct api_resource api_res_users = {
    .name = "user",
    .table = "users",
    .key = "username",
    .collection = "users",
    .tenant_scoped = true,
    .fields = user_fields,
    .check = check,
    .after = after,
};

static const struct api_field group_fields[] = {
    {.name = "name",
     .type = AT_STRING,
     .flags = AF_REQUIRED | AF_IMMUTABLE,
     .min = 1,
     .max = 63,
     .column = "name",
     .check = api_check_name},
    {.name = "policy",
     .type = AT_STRING,
     .flags = AF_NULLABLE,
     .min = 1,
     .max = 63,
     .column = "policy_id",
     .check = api_check_name,
     .ref = "policies"},
    {.name = "created_at", .type = AT_TIME, .flags = AF_READONLY, .column = "created_at"},
    {.name = "updated_at", .type = AT_TIME, .flags = AF_READONLY, .column = "updated_at"},
    {0},
};

const struct api_resource api_res_groups = {
    .name = "group",
    .table = "groups",
    .key = "name",
    .collection = "groups",
    .tenant_scoped = true,
    .fields = group_fields,
    .after = api_after_config_changed,
};
