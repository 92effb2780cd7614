/*
 * Resources kept in one table each (tenants, policies, users, RADIUS
 * servers, groups): list, get, create, merge-patch and delete, driven by the
 * resource's field table (api/json.h). Per-resource hooks add what a table
 * cannot say: side tables (gateway ids, pools), checks across rows (pools of
 * one tenant must not overlap), and what the daemon must hear afterwards.
 *
 * Every write runs in one BEGIN IMMEDIATE transaction: read, If-Match,
 * validate, write, audit record, commit; on any problem nothing is written.
 */
#ifndef ISTHMUS_API_RESOURCE_H
#define ISTHMUS_API_RESOURCE_H

#include <sqlite3.h>

#include "api/http.h"
#include "api/json.h"

enum api_action { API_ACT_CREATE, API_ACT_UPDATE, API_ACT_DELETE };

/* A write in progress, for the hooks. */
struct api_ctx {
    struct api_req *req;
    const struct api_resource *res;
    const char *tenant; /* the tenant the row belongs to (the row itself for tenants) */
    struct api_problem *p;
    bool force; /* DELETE ?force=true */
};

struct api_resource {
    const char *name;       /* "user": audit resource name and messages */
    const char *table;      /* "users" */
    const char *key;        /* field (and column) that names a row in URLs */
    const char *collection; /* collection path: "users" (under /api/v1/tenants/{t}/), "tenants" */
    bool tenant_scoped;     /* rows carry tenant_id, URLs /tenants/{tenant}/... */
    bool operator_only_create; /* POST and DELETE need an operator (tenants) */
    /* Fields only an operator may change (a tenant-admin gets 403 naming the
     * field): for tenants, what decides where clients land and what the host
     * runs (gateway ids, realms, network, enabled). NULL-terminated. */
    const char *const *operator_fields;
    const struct api_field *fields;
    /* Adds fields kept outside the row (side tables) to doc. */
    int (*load)(sqlite3 *db, const char *tenant, sqlite3_int64 rowid, json_object *doc);
    /* Checks across rows; may rewrite values of doc into canonical form.
     * old is NULL on create. Returns 0 or -1 with c->p set. */
    int (*check)(struct api_ctx *c, json_object *doc, json_object *old);
    /* Writes side tables after the row. */
    int (*save)(struct api_ctx *c, sqlite3_int64 rowid, json_object *doc, json_object *old);
    /* May refuse a delete (c->p, e.g. 409). */
    int (*before_delete)(struct api_ctx *c, sqlite3_int64 rowid, json_object *old);
    /* After the commit: tell the daemon. doc NULL on delete, old NULL on create. */
    void (*after)(struct api_ctx *c, enum api_action a, json_object *doc, json_object *old);
};

/* The handlers; params[0] is the tenant (scoped) or the key (tenants). */
void api_res_list(const struct api_resource *res, struct api_req *req, struct api_resp *resp);
void api_res_get(const struct api_resource *res, struct api_req *req, struct api_resp *resp);
void api_res_create(const struct api_resource *res, struct api_req *req, struct api_resp *resp);
void api_res_patch(const struct api_resource *res, struct api_req *req, struct api_resp *resp);
void api_res_delete(const struct api_resource *res, struct api_req *req, struct api_resp *resp);

/* Reads one row as its document (NULL: none); *rowid and etag (>= 64 bytes)
 * are filled when given. */
json_object *api_res_load(const struct api_resource *res, sqlite3 *db, const char *tenant,
                          const char *key, sqlite3_int64 *rowid, char *etag);

/* True if the tenant exists (every scoped request checks this: 404). */
bool api_tenant_exists(sqlite3 *db, const char *tenant);

/* Runs sql with one parameter (text, or an integer when text is NULL) and
 * returns the rows' first column as an array of strings (side tables). */
json_object *api_db_strings(sqlite3 *db, const char *sql, const char *text, sqlite3_int64 id);

/* Maps a failed write's SQLite error to a problem: a UNIQUE constraint on a
 * column of fields is a 409 naming the field; anything else a 500. */
void api_db_problem(sqlite3 *db, int rc, const struct api_resource *res, json_object *doc,
                    struct api_problem *p);

/* Body checks shared by POST and PATCH handlers: Content-Type, then JSON.
 * Returns the parsed object, or NULL with the problem in resp. */
json_object *api_body(const struct api_req *req, bool merge_patch, struct api_resp *resp);

/* If-Match against the current etag: false with a 412 in p. */
bool api_if_match(const struct api_req *req, const char *etag, struct api_problem *p);

/* The daemon hooks, NULL-safe. */
void api_notify_config(const struct api_req *req, const char *tenant);
/* An `after` hook for resources whose every change is a configuration
 * change of the tenant (the IKE snapshot is rebuilt). */
void api_after_config_changed(struct api_ctx *c, enum api_action a, json_object *doc,
                              json_object *old);
void api_notify_terminate(const struct api_req *req, const char *tenant, const char *user);

/* RFC 3339 time of Unix seconds. */
void api_time_str(long long t, char *out, size_t cap);

/* Inserts doc as a new row of res in tenant inside the caller's transaction
 * (defaults, check and save hooks, no audit record): for rows a create makes
 * on the side, such as a new tenant's default policy. Returns 0 or -1 with p. */
int api_res_insert(struct api_req *req, const struct api_resource *res, const char *tenant,
                   json_object *doc, struct api_problem *p);

/* The resources (h_*.c). */
extern const struct api_resource api_res_tenants, api_res_policies, api_res_users, api_res_radius,
    api_res_groups;
#endif
