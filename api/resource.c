/* The resource engine: see resource.h. */
#define _GNU_SOURCE
#include "api/resource.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/auth.h"
#include "api/conn.h"
#include "api/jbuf.h"
#include "api/page.h"
#include "api/problem.h"
#include "api/server.h"
#include "auth/seal.h"
#include "concentrator/log.h"
#include "db/audit.h"
#include "db/db.h"

#define SQL_MAX 4096

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

void api_time_str(long long t, char *out, size_t cap)
{
    /* By hand: strftime calls tzset (a stat of /etc/localtime) each time,
     * and this runs for every row of a list. */
    time_t tt = (time_t)t;
    struct tm tm;
    if (cap < 21 || !gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, cap, "1970-01-01T00:00:00Z");
        return;
    }
    char *p = put_digits(out, (unsigned)tm.tm_year + 1900, 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_sec, 2);
    *p++ = 'Z';
    *p = '\0';
}

void api_notify_config(const struct api_req *req, const char *tenant)
{
    if (req->deps && req->deps->config_changed)
        req->deps->config_changed(req->deps->arg, tenant);
}

void api_after_config_changed(struct api_ctx *c, enum api_action a, json_object *doc,
                              json_object *old)
{
    (void)a;
    (void)doc;
    (void)old;
    api_notify_config(c->req, c->tenant);
}

void api_notify_terminate(const struct api_req *req, const char *tenant, const char *user)
{
    struct log_ctx ctx = {.tenant = tenant};
    log_msg(LOG_LVL_INFO, "api", &ctx, "ending the live sessions of %s%s", user ? "user " : "",
            user ? user : "the whole tenant");
    if (req->deps && req->deps->terminate_sessions)
        req->deps->terminate_sessions(req->deps->arg, tenant, user);
}

bool api_tenant_exists(sqlite3 *db, const char *tenant)
{
    sqlite3_stmt *st = api_stmt(db, "SELECT 1 FROM tenants WHERE id = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    api_stmt_done(st);
    return found;
}

json_object *api_db_strings(sqlite3 *db, const char *sql, const char *text, sqlite3_int64 id)
{
    json_object *arr = json_object_new_array();
    sqlite3_stmt *st = api_stmt(db, sql);
    if (!st)
        return arr;
    if (text)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        json_object_array_add(arr, json_object_new_string(s ? s : ""));
    }
    api_stmt_done(st);
    return arr;
}

/* ---- SQL text from the field table ---- */

static void append(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* Columns a read returns, in field order (objects flattened). */
static void select_cols(const struct api_field *fields, char *buf, size_t cap)
{
    for (const struct api_field *f = fields; f->name; f++) {
        if (f->type == AT_OBJECT) {
            select_cols(f->sub, buf, cap);
            continue;
        }
        if (f->sql) {
            append(buf, cap, ", (%s)", f->sql);
            continue;
        }
        if (!f->column || f->flags & AF_SECRET)
            continue;
        if (f->ref)
            append(buf, cap, ", (SELECT r.name FROM %s r WHERE r.id = t.%s)", f->ref, f->column);
        else
            append(buf, cap, ", t.%s", f->column);
    }
}

/* A side-table list as group_concat(x, char(31)) gives it: values never
 * hold control characters (validation refuses them), so 0x1f separates. */
static json_object *split_list(const char *s, int len)
{
    json_object *arr = json_object_new_array();
    if (!s || len <= 0)
        return arr;
    const char *p = s, *end = s + len;
    while (p <= end) {
        const char *sep = memchr(p, 0x1f, (size_t)(end - p));
        const char *e = sep ? sep : end;
        json_object_array_add(arr, json_object_new_string_len(p, (int)(e - p)));
        if (!sep)
            break;
        p = sep + 1;
    }
    return arr;
}

/* JSON text of a column (arrays we wrote), with this thread's tokener
 * (json_tokener_parse makes a new one each time, which dominates a list). */
static json_object *parse_cached(const char *s, int len)
{
    struct json_tokener *tok = s ? api_tokener() : NULL;
    return tok ? json_tokener_parse_ex(tok, s, len) : NULL;
}

static void read_cols(const struct api_field *fields, sqlite3_stmt *st, int *idx, json_object *obj)
{
    for (const struct api_field *f = fields; f->name; f++) {
        if (f->type == AT_OBJECT) {
            json_object *sub = json_object_new_object();
            read_cols(f->sub, st, idx, sub);
            json_object_object_add(obj, f->name, sub);
            continue;
        }
        if (f->sql) {
            int i = (*idx)++;
            json_object_object_add(
                obj, f->name,
                split_list((const char *)sqlite3_column_text(st, i), sqlite3_column_bytes(st, i)));
            continue;
        }
        if (!f->column || f->flags & AF_SECRET)
            continue;
        int i = (*idx)++;
        json_object *v = NULL;
        if (sqlite3_column_type(st, i) != SQLITE_NULL) {
            switch (f->type) {
            case AT_STRING:
                v = json_object_new_string((const char *)sqlite3_column_text(st, i));
                break;
            case AT_INT:
                v = json_object_new_int64(sqlite3_column_int64(st, i));
                break;
            case AT_BOOL:
                v = json_object_new_boolean(sqlite3_column_int(st, i) != 0);
                break;
            case AT_STRLIST:
                v = parse_cached((const char *)sqlite3_column_text(st, i),
                                 sqlite3_column_bytes(st, i));
                if (!json_object_is_type(v, json_type_array)) {
                    json_object_put(v);
                    v = json_object_new_array();
                }
                break;
            case AT_TIME: {
                char ts[32];
                api_time_str(sqlite3_column_int64(st, i), ts, sizeof(ts));
                v = json_object_new_string(ts);
                break;
            }
            case AT_OBJECT:
                break;
            }
        }
        json_object_object_add(obj, f->name, v);
    }
}

/* The same columns as read_cols, written as JSON text straight into b. The
 * text of the field named key (the list's order key) is copied to keyout. */
static void write_json_cols(const struct api_field *fields, sqlite3_stmt *st, int *idx,
                            struct jbuf *b, const char *key, char *keyout, size_t keycap)
{
    bool first = true;
    for (const struct api_field *f = fields; f->name; f++) {
        if (f->type == AT_OBJECT) {
            jb_key(b, f->name, first);
            jb_raw(b, "{", 1);
            write_json_cols(f->sub, st, idx, b, key, keyout, keycap);
            jb_raw(b, "}", 1);
            first = false;
            continue;
        }
        if (!f->sql && (!f->column || f->flags & AF_SECRET))
            continue;
        int i = (*idx)++;
        jb_key(b, f->name, first);
        first = false;
        const char *text = (const char *)sqlite3_column_text(st, i);
        size_t len = (size_t)sqlite3_column_bytes(st, i);
        if (f->sql) {
            jb_raw(b, "[", 1);
            for (const char *p = text, *end = text + len; p && p <= end;) {
                const char *sep = memchr(p, 0x1f, (size_t)(end - p));
                const char *e = sep ? sep : end;
                if (p != text)
                    jb_raw(b, ",", 1);
                jb_str(b, p, (size_t)(e - p));
                if (!sep)
                    break;
                p = sep + 1;
            }
            jb_raw(b, "]", 1);
            continue;
        }
        if (!text) {
            jb_lit(b, f->type == AT_STRLIST ? "[]" : "null");
            continue;
        }
        switch (f->type) {
        case AT_STRING:
            jb_str(b, text, len);
            if (key && !strcmp(f->name, key))
                snprintf(keyout, keycap, "%s", text);
            break;
        case AT_INT:
            jb_int(b, sqlite3_column_int64(st, i));
            break;
        case AT_BOOL:
            jb_lit(b, sqlite3_column_int(st, i) ? "true" : "false");
            break;
        case AT_STRLIST: /* JSON text this API wrote */
            jb_raw(b, text, len);
            break;
        case AT_TIME: {
            char ts[32];
            api_time_str(sqlite3_column_int64(st, i), ts, sizeof(ts));
            jb_str(b, ts, strlen(ts));
            break;
        }
        case AT_OBJECT:
            break;
        }
    }
}

static void make_etag(char *etag, sqlite3_int64 rowid, sqlite3_int64 version, sqlite3_int64 created)
{
    snprintf(etag, 64, "\"%llx.%llx.%llx\"", (unsigned long long)created, (unsigned long long)rowid,
             (unsigned long long)version);
}

/* Builds a document from a row whose first columns are rowid, version,
 * created_at. */
static json_object *row_doc(const struct api_resource *res, sqlite3 *db, const char *tenant,
                            sqlite3_stmt *st, sqlite3_int64 *rowid, char *etag)
{
    sqlite3_int64 id = sqlite3_column_int64(st, 0);
    if (rowid)
        *rowid = id;
    if (etag)
        make_etag(etag, id, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    json_object *doc = json_object_new_object();
    int idx = 3;
    read_cols(res->fields, st, &idx, doc);
    if (res->load) {
        json_object *k = NULL;
        json_object_object_get_ex(doc, res->key, &k);
        res->load(db, res->tenant_scoped ? tenant : json_object_get_string(k), id, doc);
    }
    return doc;
}

json_object *api_res_load(const struct api_resource *res, sqlite3 *db, const char *tenant,
                          const char *key, sqlite3_int64 *rowid, char *etag)
{
    char sql[SQL_MAX] = "";
    append(sql, sizeof(sql), "SELECT t.rowid, t.version, t.created_at");
    select_cols(res->fields, sql, sizeof(sql));
    append(sql, sizeof(sql), " FROM %s t WHERE t.%s = ?1%s", res->table, res->key,
           res->tenant_scoped ? " AND t.tenant_id = ?2" : "");
    sqlite3_stmt *st = api_stmt(db, sql);
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if (res->tenant_scoped)
        sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
    json_object *doc = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        /* The load hook may run statements of its own: copy what we need
         * first, then release this one. */
        doc = row_doc(res, db, tenant, st, rowid, etag);
    }
    api_stmt_done(st);
    return doc;
}

/* ---- writes ---- */

struct col {
    const struct api_field *f;
    json_object *v; /* NULL: SQL NULL */
    char path[128];
};

/* Writable columns present in doc (secrets only when given). */
static void write_cols(const struct api_field *fields, json_object *doc, const char *prefix,
                       struct col *cols, unsigned *n, unsigned max)
{
    for (const struct api_field *f = fields; f->name; f++) {
        json_object *v = NULL;
        bool have = json_object_object_get_ex(doc, f->name, &v);
        char path[128];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", f->name);
        if (f->type == AT_OBJECT) {
            if (have && json_object_is_type(v, json_type_object))
                write_cols(f->sub, v, path, cols, n, max);
            continue;
        }
        if (!f->column || f->flags & AF_READONLY || f->type == AT_TIME)
            continue;
        if (f->flags & AF_SECRET && !have)
            continue;
        if (*n >= max)
            return;
        cols[*n].f = f;
        cols[*n].v = v;
        snprintf(cols[*n].path, sizeof(cols[*n].path), "%s", path);
        (*n)++;
    }
}

static int bind_col(struct api_ctx *c, sqlite3_stmt *st, int i, const struct col *col)
{
    sqlite3 *db = c->req->db;
    const struct api_field *f = col->f;
    if (!col->v)
        return sqlite3_bind_null(st, i);
    if (f->ref) {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE tenant_id = ? AND name = ?", f->ref);
        sqlite3_stmt *q = api_stmt(db, sql);
        if (!q)
            return SQLITE_ERROR;
        sqlite3_bind_text(q, 1, c->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, json_object_get_string(col->v), -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        sqlite3_int64 id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
        api_stmt_done(q);
        if (rc != SQLITE_ROW) {
            api_problem_set(c->p, 400, col->path, "%s: '%.64s' does not exist in this tenant",
                            col->path, json_object_get_string(col->v));
            return SQLITE_CONSTRAINT;
        }
        return sqlite3_bind_int64(st, i, id);
    }
    if (f->flags & AF_SECRET) {
        const char *s = json_object_get_string(col->v);
        size_t len = strlen(s);
        uint8_t *buf = malloc(len + SEAL_OVERHEAD);
        long n = buf && c->req->deps && c->req->deps->master_key
                     ? seal(c->req->deps->master_key, f->seal, (const uint8_t *)s, len, buf,
                            len + SEAL_OVERHEAD)
                     : -1;
        int rc = n < 0 ? SQLITE_ERROR : sqlite3_bind_blob(st, i, buf, (int)n, SQLITE_TRANSIENT);
        free(buf);
        if (n < 0)
            api_problem_set(c->p, 500, NULL, "the secret cannot be sealed");
        return rc;
    }
    switch (f->type) {
    case AT_STRING:
        return sqlite3_bind_text(st, i, json_object_get_string(col->v), -1, SQLITE_TRANSIENT);
    case AT_INT:
        return sqlite3_bind_int64(st, i, json_object_get_int64(col->v));
    case AT_BOOL:
        return sqlite3_bind_int(st, i, json_object_get_boolean(col->v) ? 1 : 0);
    case AT_STRLIST:
        return sqlite3_bind_text(st, i,
                                 json_object_to_json_string_ext(col->v, JSON_C_TO_STRING_PLAIN), -1,
                                 SQLITE_TRANSIENT);
    default:
        return sqlite3_bind_null(st, i);
    }
}

/* The field whose column a constraint message names last ("t.a, t.b"). */
static const struct api_field *field_of_column(const struct api_field *fields, const char *col,
                                               char *path, size_t cap, const char *prefix)
{
    for (const struct api_field *f = fields; f->name; f++) {
        char p[128];
        snprintf(p, sizeof(p), "%s%s%s", prefix, prefix[0] ? "." : "", f->name);
        if (f->type == AT_OBJECT) {
            const struct api_field *r = field_of_column(f->sub, col, path, cap, p);
            if (r)
                return r;
        } else if (f->column && !strcmp(f->column, col)) {
            snprintf(path, cap, "%s", p);
            return f;
        }
    }
    return NULL;
}

static json_object *doc_at(json_object *doc, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_object *cur = doc;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        json_object_object_get_ex(cur, tok, &next);
        cur = next;
    }
    /* cppcheck takes json-c's object type for an integer here. */
    // cppcheck-suppress CastIntegerToAddressAtReturn
    return cur;
}

void api_db_problem(sqlite3 *db, int rc, const struct api_resource *res, json_object *doc,
                    struct api_problem *p)
{
    if (p->status)
        return; /* a hook or bind already said why */
    const char *msg = sqlite3_errmsg(db);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        const char *dot = strrchr(msg, '.');
        char path[128] = "";
        const struct api_field *f =
            dot && res ? field_of_column(res->fields, dot + 1, path, sizeof(path), "") : NULL;
        if (f) {
            json_object *v = doc_at(doc, path);
            bool global = !res->tenant_scoped && strcmp(f->name, res->key) != 0;
            api_problem_set(p, 409, path, "%s: '%.80s' is already used%s", path,
                            v ? json_object_get_string(v) : "", global ? "" : " in this tenant");
            if (!strcmp(f->name, res->key))
                api_problem_set(p, 409, path, "%s: a %s '%.80s' already exists", path, res->name,
                                v ? json_object_get_string(v) : "");
            return;
        }
        api_problem_set(p, 409, NULL, "this conflicts with an existing %s",
                        res ? res->name : "row");
        return;
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        api_problem_set(p, 503, NULL, "the database is busy; retry");
        return;
    }
    log_err("api", "database write failed: %s", msg);
    api_problem_set(p, 500, NULL, "the database refused the write");
}

/* INSERT (rowid 0) or UPDATE of one row from doc. Returns SQLite's code. */
static int write_row(struct api_ctx *c, json_object *doc, sqlite3_int64 *rowid)
{
    const struct api_resource *res = c->res;
    struct col cols[40];
    unsigned n = 0;
    write_cols(res->fields, doc, "", cols, &n, 40);
    char sql[SQL_MAX] = "";
    bool insert = *rowid == 0;
    if (insert) {
        append(sql, sizeof(sql), "INSERT INTO %s (created_at, updated_at, version%s", res->table,
               res->tenant_scoped ? ", tenant_id" : "");
        for (unsigned i = 0; i < n; i++)
            append(sql, sizeof(sql), ", %s", cols[i].f->column);
        append(sql, sizeof(sql), ") VALUES (?1, ?1, 1%s", res->tenant_scoped ? ", ?2" : "");
        for (unsigned i = 0; i < n; i++)
            append(sql, sizeof(sql), ", ?%u", i + 3);
        append(sql, sizeof(sql), ")");
    } else {
        append(sql, sizeof(sql), "UPDATE %s SET updated_at = ?1, version = version + 1",
               res->table);
        for (unsigned i = 0; i < n; i++)
            append(sql, sizeof(sql), ", %s = ?%u", cols[i].f->column, i + 3);
        append(sql, sizeof(sql), " WHERE rowid = ?2");
    }
    sqlite3_stmt *st = api_stmt(c->req->db, sql);
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, db_now());
    if (insert) {
        if (res->tenant_scoped)
            sqlite3_bind_text(st, 2, c->tenant, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 2, *rowid);
    }
    int rc = SQLITE_OK;
    for (unsigned i = 0; i < n && rc == SQLITE_OK; i++)
        rc = bind_col(c, st, (int)i + 3, &cols[i]);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(c->req->db);
    }
    if (rc == SQLITE_OK && insert)
        *rowid = sqlite3_last_insert_rowid(c->req->db);
    api_stmt_done(st);
    return rc;
}

/* A copy of doc without read-only fields (the base a merge patch applies to). */
static json_object *writable_copy(const struct api_field *fields, json_object *doc)
{
    json_object *out = json_object_new_object();
    json_object_object_foreach(doc, k, v)
    {
        const struct api_field *f = api_field_find(fields, k);
        if (!f || f->flags & AF_READONLY)
            continue;
        if (f->type == AT_OBJECT && json_object_is_type(v, json_type_object)) {
            json_object_object_add(out, k, writable_copy(f->sub, v));
            continue;
        }
        json_object *copy = NULL;
        if (v)
            json_object_deep_copy(v, &copy, NULL);
        json_object_object_add(out, k, copy);
    }
    return out;
}

static const char *ctype_base(const char *ct, char *buf, size_t cap)
{
    size_t i = 0;
    for (; ct[i] && ct[i] != ';' && ct[i] != ' ' && i + 1 < cap; i++)
        buf[i] = ct[i];
    buf[i] = '\0';
    return buf;
}

json_object *api_body(const struct api_req *req, bool merge_patch, struct api_resp *resp)
{
    const char *ct = api_header(req, "Content-Type");
    if (ct) {
        char base[64];
        ctype_base(ct, base, sizeof(base));
        bool ok = !strcasecmp(base, "application/json") ||
                  (merge_patch && !strcasecmp(base, "application/merge-patch+json"));
        if (!ok) {
            api_problem(resp, 415, NULL, "the body must be application/json%s",
                        merge_patch ? " or application/merge-patch+json" : "");
            return NULL;
        }
    }
    struct api_problem p = {0};
    json_object *o = api_json_parse(req->body, req->body_len, &p);
    if (!o)
        api_problem_send(resp, &p);
    return o;
}

bool api_if_match(const struct api_req *req, const char *etag, struct api_problem *p)
{
    const char *im = api_header(req, "If-Match");
    if (!im)
        return true;
    /* A list of strong tags, or "*". */
    const char *s = im;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == '*')
            return true;
        const char *e = s;
        if (*e == '"') {
            e = strchr(s + 1, '"');
            if (!e)
                break;
            e++;
        } else {
            while (*e && *e != ',')
                e++;
        }
        if ((size_t)(e - s) == strlen(etag) && !memcmp(s, etag, strlen(etag)))
            return true;
        if (e == s)
            break;
        s = e;
    }
    api_problem_set(p, 412, NULL,
                    "If-Match %.80s does not match the current ETag %s: someone changed it; "
                    "read it again",
                    im, etag);
    return false;
}

static void url_key(const char *key, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *c = key; *c && o + 4 < cap; c++) {
        unsigned char ch = (unsigned char)*c;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~@+", ch)) {
            out[o++] = (char)ch;
        } else {
            snprintf(out + o, cap - o, "%%%02X", ch);
            o += 3;
        }
    }
    out[o] = '\0';
}

static void set_location(struct api_resp *resp, const struct api_resource *res, const char *tenant,
                         const char *key)
{
    char t[256], k[256];
    url_key(tenant, t, sizeof(t));
    url_key(key, k, sizeof(k));
    if (res->tenant_scoped)
        snprintf(resp->location, sizeof(resp->location), "/api/v1/tenants/%s/%s/%s", t,
                 res->collection, k);
    else
        snprintf(resp->location, sizeof(resp->location), "/api/v1/%s/%s", res->collection, k);
}

static int audit(struct api_ctx *c, const char *key, const char *action, json_object *changes)
{
    json_object *red = changes ? api_redact(c->res->fields, changes) : json_object_new_object();
    int rc = db_audit_insert(c->req->db, c->req->who.token_id, c->tenant, c->res->name, key, action,
                             json_object_to_json_string_ext(
                                 red, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(red);
    return rc;
}

static void log_change(const struct api_ctx *c, const char *key, const char *what)
{
    struct log_ctx ctx = {.tenant = c->tenant};
    log_msg(LOG_LVL_INFO, "api", &ctx, "%s %s %s by token %s", c->res->name, key, what,
            c->req->who.token_id);
}

/* ---- handlers ---- */

static bool scope_read(const struct api_resource *res, struct api_req *req, const char *tenant,
                       struct api_resp *resp)
{
    if (!api_may_read(req, tenant, resp))
        return false;
    if (res->tenant_scoped && !api_tenant_exists(req->db, tenant)) {
        api_problem(resp, 404, NULL, "no tenant '%.64s'", tenant);
        return false;
    }
    return true;
}

/* A page written row by row into the response text (no load hook). */
static void list_stream(const struct api_resource *res, sqlite3_stmt *st, const struct api_page *pg,
                        struct api_resp *resp)
{
    struct jbuf b;
    jb_init(&b, 512 + 400 * (size_t)pg->limit);
    jb_lit(&b, "{\"items\":[");
    char last[API_PARAM_MAX] = "";
    unsigned count = 0;
    bool more = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == pg->limit) {
            more = true;
            break;
        }
        if (count)
            jb_raw(&b, ",", 1);
        jb_raw(&b, "{", 1);
        int idx = 3;
        write_json_cols(res->fields, st, &idx, &b, res->key, last, sizeof(last));
        jb_raw(&b, "}", 1);
        count++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        jb_free(&b);
        api_problem(resp, 500, NULL, "the list cannot be read");
        return;
    }
    jb_lit(&b, "],\"next_cursor\":");
    if (more) {
        char cur[API_PARAM_MAX * 2];
        api_page_cursor(last, cur, sizeof(cur));
        jb_str(&b, cur, strlen(cur));
    } else {
        jb_lit(&b, "null");
    }
    jb_raw(&b, "}", 1);
    if (b.oom) {
        jb_free(&b);
        api_problem(resp, 500, NULL, "out of memory");
        return;
    }
    free(resp->body);
    resp->body = b.p; /* taken over: freed with the response */
    resp->len = b.len;
    resp->status = 200;
    resp->ctype = "application/json";
}

void api_res_list(const struct api_resource *res, struct api_req *req, struct api_resp *resp)
{
    const char *tenant = res->tenant_scoped ? req->params[0] : NULL;
    if (res->tenant_scoped && !scope_read(res, req, tenant, resp))
        return;
    struct api_page pg;
    if (!api_page_parse(req, &pg, resp))
        return;
    const char *only = res->tenant_scoped ? NULL : api_caller_tenant(req);
    char sql[SQL_MAX] = "";
    append(sql, sizeof(sql), "SELECT t.rowid, t.version, t.created_at");
    select_cols(res->fields, sql, sizeof(sql));
    append(sql, sizeof(sql), " FROM %s t WHERE 1", res->table);
    if (res->tenant_scoped || only)
        append(sql, sizeof(sql), " AND t.%s = ?1", res->tenant_scoped ? "tenant_id" : res->key);
    if (pg.has_after)
        append(sql, sizeof(sql), " AND t.%s > ?2", res->key);
    append(sql, sizeof(sql), " ORDER BY t.%s LIMIT ?3", res->key);
    sqlite3_stmt *st = api_stmt(req->db, sql);
    if (!st) {
        api_problem(resp, 500, NULL, "the list cannot be read");
        return;
    }
    if (res->tenant_scoped || only)
        sqlite3_bind_text(st, 1, res->tenant_scoped ? tenant : only, -1, SQLITE_STATIC);
    if (pg.has_after)
        sqlite3_bind_text(st, 2, pg.after, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)pg.limit + 1);
    if (!res->load) {
        list_stream(res, st, &pg, resp);
        api_stmt_done(st);
        return;
    }
    json_object *items = json_object_new_array_ext((int)pg.limit);
    char next[API_PARAM_MAX] = "";
    bool more = false;
    unsigned count = 0;
    int rc;
    /* Rows first; side-table loads (which run their own statements) after. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == pg.limit) {
            more = true;
            break;
        }
        json_object *doc = json_object_new_object();
        int idx = 3;
        read_cols(res->fields, st, &idx, doc);
        json_object_object_add(doc, "_rowid", json_object_new_int64(sqlite3_column_int64(st, 0)));
        json_object_array_add(items, doc);
        count++;
    }
    api_stmt_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_object_put(items);
        api_problem(resp, 500, NULL, "the list cannot be read");
        return;
    }
    for (unsigned i = 0; i < count; i++) {
        json_object *doc = json_object_array_get_idx(items, i);
        json_object *rid = NULL, *k = NULL;
        json_object_object_get_ex(doc, "_rowid", &rid);
        json_object_object_get_ex(doc, res->key, &k);
        if (res->load)
            res->load(req->db, res->tenant_scoped ? tenant : json_object_get_string(k),
                      json_object_get_int64(rid), doc);
        json_object_object_del(doc, "_rowid");
        if (i == count - 1 && more)
            snprintf(next, sizeof(next), "%s", json_object_get_string(k));
    }
    api_page_send(resp, items, more ? next : NULL);
}

void api_res_get(const struct api_resource *res, struct api_req *req, struct api_resp *resp)
{
    const char *tenant = req->params[0];
    const char *key = res->tenant_scoped ? req->params[1] : req->params[0];
    if (!scope_read(res, req, tenant, resp))
        return;
    char etag[64];
    json_object *doc = api_res_load(res, req->db, tenant, key, NULL, etag);
    if (!doc) {
        api_problem(resp, 404, NULL, "no %s '%.80s'", res->name, key);
        return;
    }
    snprintf(resp->etag, sizeof(resp->etag), "%s", etag);
    api_resp_json(resp, 200, doc);
}

static bool begin(struct api_req *req, struct api_resp *resp)
{
    int rc = db_begin(req->db);
    if (rc != SQLITE_OK) {
        api_problem(resp, 503, NULL, "the database is busy; retry");
        return false;
    }
    return true;
}

static void fail(struct api_req *req, struct api_resp *resp, const struct api_problem *p)
{
    db_rollback(req->db);
    api_problem_send(resp, p);
}

void api_res_create(const struct api_resource *res, struct api_req *req, struct api_resp *resp)
{
    const char *tenant = res->tenant_scoped ? req->params[0] : NULL;
    if (res->operator_only_create ? !api_require_operator(req, resp)
                                  : !api_may_write(req, tenant, resp))
        return;
    json_object *body = api_body(req, false, resp), *doc = NULL, *out = NULL;
    if (!body)
        return;
    struct api_problem p = {0};
    if (api_validate(res->fields, body, API_V_CREATE, NULL, &p) < 0) {
        api_problem_send(resp, &p);
        goto done;
    }
    doc = api_merge_patch(NULL, body);
    api_apply_defaults(res->fields, doc);
    json_object *k = NULL;
    json_object_object_get_ex(doc, res->key, &k);
    char key[API_PARAM_MAX];
    snprintf(key, sizeof(key), "%s", json_object_get_string(k));
    if (!res->tenant_scoped)
        tenant = key;
    if (!begin(req, resp))
        goto done;
    if (res->tenant_scoped && !api_tenant_exists(req->db, tenant)) {
        api_problem_set(&p, 404, NULL, "no tenant '%.64s'", tenant);
        fail(req, resp, &p);
        goto done;
    }
    struct api_ctx c = {.req = req, .res = res, .tenant = tenant, .p = &p};
    sqlite3_int64 rowid = 0;
    int rc = SQLITE_OK;
    if (res->check && res->check(&c, doc, NULL) < 0)
        goto problem;
    if ((rc = write_row(&c, doc, &rowid)) != SQLITE_OK)
        goto problem;
    if (res->save && res->save(&c, rowid, doc, NULL) < 0)
        goto problem;
    if ((rc = audit(&c, key, "create", doc)) != SQLITE_OK)
        goto problem;
    char etag[64];
    out = api_res_load(res, req->db, tenant, key, NULL, etag);
    if (!out || (rc = db_commit(req->db)) != SQLITE_OK) {
        rc = rc == SQLITE_OK ? SQLITE_ERROR : rc;
        goto problem;
    }
    log_change(&c, key, "created");
    if (res->after)
        res->after(&c, API_ACT_CREATE, out, NULL);
    set_location(resp, res, tenant, key);
    snprintf(resp->etag, sizeof(resp->etag), "%s", etag);
    api_resp_json(resp, 201, out);
    out = NULL;
    goto done;
problem:
    if (!p.status)
        api_db_problem(req->db, rc, res, doc, &p);
    fail(req, resp, &p);
done:
    json_object_put(out);
    json_object_put(doc);
    json_object_put(body);
}

void api_res_patch(const struct api_resource *res, struct api_req *req, struct api_resp *resp)
{
    const char *tenant = req->params[0];
    const char *key = res->tenant_scoped ? req->params[1] : req->params[0];
    if (!api_may_write(req, tenant, resp))
        return;
    json_object *patch = api_body(req, true, resp), *old = NULL, *merged = NULL, *base = NULL,
                *out = NULL;
    if (!patch)
        return;
    struct api_problem p = {0};
    struct api_ctx c = {.req = req, .res = res, .tenant = tenant, .p = &p};
    sqlite3_int64 rowid = 0;
    int rc = SQLITE_OK;
    char etag[64];
    for (const char *const *f = res->operator_fields; f && *f && req->who.role != API_ROLE_OPERATOR;
         f++)
        if (json_object_object_get_ex(patch, *f, NULL)) {
            api_problem(resp, 403, *f, "%s: only an operator may change it", *f);
            goto done;
        }
    if (!begin(req, resp))
        goto done;
    old = api_res_load(res, req->db, tenant, key, &rowid, etag);
    if (!old) {
        api_problem_set(&p, 404, NULL, "no %s '%.80s'", res->name, key);
        goto problem;
    }
    if (!api_if_match(req, etag, &p))
        goto problem;
    if (api_validate(res->fields, patch, API_V_PATCH, old, &p) < 0)
        goto problem;
    base = writable_copy(res->fields, old);
    merged = api_merge_patch(base, patch);
    api_apply_defaults(res->fields, merged);
    if (api_validate(res->fields, merged, API_V_FULL, old, &p) < 0)
        goto problem;
    if (res->check && res->check(&c, merged, old) < 0)
        goto problem;
    if ((rc = write_row(&c, merged, &rowid)) != SQLITE_OK)
        goto problem;
    if (res->save && res->save(&c, rowid, merged, old) < 0)
        goto problem;
    if ((rc = audit(&c, key, "update", patch)) != SQLITE_OK)
        goto problem;
    out = api_res_load(res, req->db, tenant, key, NULL, etag);
    if (!out || (rc = db_commit(req->db)) != SQLITE_OK) {
        rc = rc == SQLITE_OK ? SQLITE_ERROR : rc;
        goto problem;
    }
    log_change(&c, key, "updated");
    if (res->after)
        res->after(&c, API_ACT_UPDATE, out, old);
    snprintf(resp->etag, sizeof(resp->etag), "%s", etag);
    api_resp_json(resp, 200, out);
    out = NULL;
    goto done;
problem:
    if (!p.status)
        api_db_problem(req->db, rc, res, merged, &p);
    fail(req, resp, &p);
done:
    json_object_put(out);
    json_object_put(merged);
    json_object_put(base);
    json_object_put(old);
    json_object_put(patch);
}

void api_res_delete(const struct api_resource *res, struct api_req *req, struct api_resp *resp)
{
    const char *tenant = req->params[0];
    const char *key = res->tenant_scoped ? req->params[1] : req->params[0];
    if (res->operator_only_create ? !api_require_operator(req, resp)
                                  : !api_may_write(req, tenant, resp))
        return;
    const char *force = api_query(req, "force");
    if (force && strcmp(force, "true") != 0 && strcmp(force, "false") != 0) {
        api_problem(resp, 400, "force", "force: must be true or false");
        return;
    }
    struct api_problem p = {0};
    struct api_ctx c = {.req = req,
                        .res = res,
                        .tenant = tenant,
                        .p = &p,
                        .force = force && !strcmp(force, "true")};
    sqlite3_int64 rowid = 0;
    char etag[64];
    int rc = SQLITE_OK;
    json_object *old = NULL;
    if (!begin(req, resp))
        return;
    old = api_res_load(res, req->db, tenant, key, &rowid, etag);
    if (!old) {
        api_problem_set(&p, 404, NULL, "no %s '%.80s'", res->name, key);
        goto problem;
    }
    if (!api_if_match(req, etag, &p))
        goto problem;
    if (res->before_delete && res->before_delete(&c, rowid, old) < 0)
        goto problem;
    char sql[256];
    snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE rowid = ?", res->table);
    sqlite3_stmt *st = api_stmt(req->db, sql);
    if (!st) {
        rc = SQLITE_ERROR;
        goto problem;
    }
    sqlite3_bind_int64(st, 1, rowid);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(req->db);
    api_stmt_done(st);
    if (rc != SQLITE_OK)
        goto problem;
    json_object *changes = json_object_new_object();
    if (c.force)
        json_object_object_add(changes, "force", json_object_new_boolean(1));
    rc = audit(&c, key, "delete", changes);
    json_object_put(changes);
    if (rc != SQLITE_OK || (rc = db_commit(req->db)) != SQLITE_OK)
        goto problem;
    log_change(&c, key, "deleted");
    if (res->after)
        res->after(&c, API_ACT_DELETE, NULL, old);
    resp->status = 204;
    goto done;
problem:
    if (!p.status)
        api_db_problem(req->db, rc, res, old, &p);
    fail(req, resp, &p);
done:
    json_object_put(old);
}

int api_res_insert(struct api_req *req, const struct api_resource *res, const char *tenant,
                   json_object *doc, struct api_problem *p)
{
    struct api_ctx c = {.req = req, .res = res, .tenant = tenant, .p = p};
    sqlite3_int64 rowid = 0;
    api_apply_defaults(res->fields, doc);
    if (api_validate(res->fields, doc, API_V_FULL, NULL, p) < 0)
        return -1;
    if (res->check && res->check(&c, doc, NULL) < 0)
        return -1;
    int rc = write_row(&c, doc, &rowid);
    if (rc != SQLITE_OK) {
        api_db_problem(req->db, rc, res, doc, p);
        return -1;
    }
    if (res->save && res->save(&c, rowid, doc, NULL) < 0)
        return -1;
    return 0;
}
